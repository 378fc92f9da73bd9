import assert from "node:assert/strict";
import type { RealServer } from "../../src/state/types.ts";
import { virtualServerKey } from "../../src/state/keys.ts";
import type { Protocol } from "../../src/cluster/types.ts";
import { parseDestinationTable, readDestinationTable } from "./ipvs_proc_table.ts";

const key = (protocol: Protocol, address: string, port: number) =>
  virtualServerKey({ protocol, address, port });

const HEADER = "IP Virtual Server version 1.2.1 (size=4096)\n" +
  "Prot LocalAddress:Port Scheduler Flags\n" +
  "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n";

function realServer(address: string, port: number, weight: number, forward = "masq"): RealServer {
  return {
    address,
    port,
    forward: forward as RealServer["forward"],
    weight,
    activeConnections: 0,
    inactiveConnections: 0,
  };
}

/** `/proc/net/ip_vs` of the captured table (testdata/capture_ipvs.ts, in the VM of tests/vm). */
const captured = Deno.readTextFileSync(new URL("./testdata/ipvs_proc_table.txt", import.meta.url));

Deno.test("the kernel's captured table gives each TCP, UDP and SCTP service's real servers in its order", () => {
  const table = parseDestinationTable(captured);
  assert.deepEqual(
    table,
    new Map([
      [key("sctp", "10.96.0.30", 3868), [realServer("10.244.4.4", 3868, 1)]],
      [key("tcp", "10.96.0.20", 443), [
        realServer("10.244.3.4", 443, 0, "route"),
        realServer("10.244.3.3", 443, 3, "tunnel"),
      ]],
      [key("tcp", "10.96.0.10", 80), [
        realServer("10.244.2.7", 8080, 0),
        realServer("10.244.1.5", 8080, 1),
      ]],
      [key("udp", "fd00:10:96::a", 53), [realServer("fd00:10:244::5", 53, 1)]],
    ]),
  );
});

Deno.test("a firewall-mark service and a protocol the state does not model are left out with their real servers", () => {
  const table = parseDestinationTable(
    HEADER +
      "FWM  00000001 rr \n  -> 0AF40909:0000      Route   1      0          0         \n" +
      "ICMPv6  [fd00:0000:0000:0000:0000:0000:0000:0001]:0000 rr \n" +
      "  -> [fd00:0000:0000:0000:0000:0000:0000:0002]:0000      Masq    1      0          0\n" +
      "TCP  0A000001:0050 rr \n",
  );
  assert.deepEqual(table, new Map([[key("tcp", "10.0.0.1", 80), []]]));
});

Deno.test("connection counts and the local node's method are read as the GET_DEST decode reads them", () => {
  const table = parseDestinationTable(
    HEADER + "UDP  0A000001:0035 rr \n" +
      "  -> 7F000001:1F90      Local   2      17         4294967295\n",
  );
  assert.deepEqual(table?.get(key("udp", "10.0.0.1", 53)), [{
    ...realServer("127.0.0.1", 8080, 2, "route"),
    activeConnections: 17,
    inactiveConnections: 4294967295,
  }]);
});

Deno.test("a table of another shape is not used, so the read dumps each service instead", () => {
  const service = "TCP  0A000001:0050 rr \n";
  const server = "  -> 0A000002:1F90      Masq    1      0          0\n";
  const cases: Record<string, string> = {
    "another header": HEADER.replace("version 1.2.1", "version 2") + service,
    "no column line": HEADER.split("\n")[0] + "\n" + service,
    "a service listed twice (a torn read)": HEADER + service + server + service,
    "a real server before any service": HEADER + server + service,
    "an unknown method": HEADER + service + server.replace("Masq", "Bypass"),
    "a weight that is not a number": HEADER + service + server.replace(" 1 ", " x "),
    "a real server with a field more": HEADER + service + server.replace("0\n", "0 0\n"),
    "an address of another form": HEADER + service.replace("0A000001", "10.0.0.1"),
    "a blank line inside": HEADER + service + "\n" + server,
    "the last line cut short (a half-written text)": HEADER + service + server.slice(0, -1),
    "a port of three digits": HEADER + service.replace(":0050", ":050"),
    "a service with no scheduler": HEADER + "TCP  0A000001:0050\n",
    "an IPv6 address with a short group": HEADER +
      "UDP  [fd00:0:0000:0000:0000:0000:0000:000a]:0035 rr \n",
  };
  for (const [what, text] of Object.entries(cases)) {
    assert.equal(parseDestinationTable(text), undefined, what);
  }
  assert.deepEqual(parseDestinationTable(HEADER + service + server)?.size, 1);
});

Deno.test("a table that cannot be read is no table", async () => {
  assert.equal(await readDestinationTable("/nonexistent/ip_vs"), undefined);
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, captured);
    assert.equal((await readDestinationTable(file))?.size, 4);
  } finally {
    await Deno.remove(file);
  }
});
