// The netlink read's real servers from the kernel's table (/proc/net/ip_vs) on the real kernel:
// the same read as one GET_DEST dump per service and as the exec backend's, for every forwarding
// method, IPv6, SCTP and a firewall mark; the table is what the read uses while it lists exactly
// the dumped services, and a table that does not is not used.
import assert from "node:assert/strict";
import { NetlinkIpvs, type NetlinkIpvsOptions } from "../../backends/netlink/ipvs.ts";
import { IPVS_PROC_TABLE } from "../../backends/netlink/ipvs_proc_table.ts";
import { readVirtualServers } from "../../backends/exec/read_kernel.ts";
import { runCommand } from "../../backends/exec/command.ts";
import { sortVirtualServers } from "../../src/state/keys.ts";
import type { VirtualServer } from "../../src/state/types.ts";
import { kernelTest, sh } from "./harness.ts";

/** A table with what the state models and what it does not, every method ipvsadm can set. */
const TABLE = [
  "-A -t 10.96.0.10:80 -s rr -p 10800",
  "-a -t 10.96.0.10:80 -r 10.244.1.5:8080 -m -w 1",
  "-a -t 10.96.0.10:80 -r 10.244.2.7:8080 -m -w 0",
  "-A -t 10.96.0.20:443 -s wrr",
  "-a -t 10.96.0.20:443 -r 10.244.3.3:443 -i -w 3",
  "-a -t 10.96.0.20:443 -r 10.244.3.4:443 -g -w 0",
  "-A -u [fd00:10:96::a]:53 -s mh -b mh-port",
  "-a -u [fd00:10:96::a]:53 -r [fd00:10:244::5]:53 -m -w 1",
  "-a -u [fd00:10:96::a]:53 -r [fd00:10:244::6]:53 -m -w 1",
  "-A --sctp-service 10.96.0.30:3868 -s sh -b sh-port",
  "-a --sctp-service 10.96.0.30:3868 -r 10.244.4.4:3868 -m -w 1",
  "-A -f 1 -s rr",
  "-a -f 1 -r 10.244.9.9:0 -g -w 1",
].join("\n") + "\n";

async function read(options: NetlinkIpvsOptions): Promise<VirtualServer[]> {
  const opened = await NetlinkIpvs.open(options);
  if (!opened.ok) throw new Error(`IPVS over netlink: ${opened.reason}`);
  try {
    return await opened.client.readVirtualServers();
  } finally {
    opened.client.close();
  }
}

/** Runs `fn` on the table above, in a temporary directory, and empties the table after. */
async function withTable(fn: (dir: string) => Promise<void>): Promise<void> {
  await sh(["ipvsadm", "-C"]);
  const dir = await Deno.makeTempDir();
  try {
    await sh(["ipvsadm", "--restore"], TABLE);
    await fn(dir);
  } finally {
    await sh(["ipvsadm", "-C"]);
    await Deno.remove(dir, { recursive: true });
  }
}

kernelTest(
  "the kernel's table gives the real servers one GET_DEST dump per service gives, as ipvsadm reads them",
  async () => {
    await withTable(async () => {
      const fromTable = await read({});
      assert.deepEqual(fromTable, await read({ destinationTable: false }));
      assert.equal(fromTable.length, 4, "the firewall mark is left out");
      assert.deepEqual(
        fromTable.map((vs) => vs.realServers.map((rs) => rs.forward)),
        [["masq", "masq"], ["tunnel", "route"], ["masq"], ["masq", "masq"]],
      );
      // The client's read is in the state's order; the tools' is in ipvsadm's.
      assert.deepEqual(fromTable, sortVirtualServers(await readVirtualServers(runCommand)));
    });
  },
);

kernelTest(
  "the read takes the real servers from the table while it lists exactly the dumped services",
  async () => {
    await withTable(async (dir) => {
      // The kernel's table with one weight changed: only a read that uses it can show 7.
      const table = (await Deno.readTextFile(IPVS_PROC_TABLE)).replace(
        /(-> 0AF40105:1F90 +Masq +)1 /,
        "$17 ",
      );
      const path = `${dir}/ip_vs`;
      await Deno.writeTextFile(path, table);
      const web = (await read({ destinationTable: path })).find((vs) => vs.port === 80)!;
      assert.deepEqual(web.realServers.map((rs) => [rs.address, rs.weight]), [
        ["10.244.1.5", 7],
        ["10.244.2.7", 0],
      ]);
    });
  },
);

kernelTest(
  "a table that lists other services than the dump, or cannot be read, is not used",
  async () => {
    await withTable(async (dir) => {
      const expected = await read({ destinationTable: false });
      const kernel = await Deno.readTextFile(IPVS_PROC_TABLE);
      const stale = `${dir}/stale`;
      // The SCTP service left out: a table from before a change.
      await Deno.writeTextFile(stale, kernel.replace(/SCTP .*\n( {2}->.*\n)*/, ""));
      const garbled = `${dir}/garbled`;
      // A method name the parser does not know, on a line whose weight would show if it were read.
      await Deno.writeTextFile(
        garbled,
        kernel.replace(/(-> 0AF40105:1F90 +)Masq( +)1 /, "$1Masquerade$27 "),
      );
      assert.notEqual(await Deno.readTextFile(garbled), kernel);
      for (const path of [stale, garbled, `${dir}/missing`]) {
        assert.deepEqual(await read({ destinationTable: path }), expected, path);
      }
    });
  },
);
