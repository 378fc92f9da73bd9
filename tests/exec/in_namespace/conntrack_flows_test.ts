/**
 * The exec backend's conntrack access on the real `conntrack` tool in this private network
 * namespace: a UDP flow DNATed by a nat rule is listed with its original destination, port and
 * reply source, and deleted by exactly those, leaving another flow alone; hundreds of stale
 * flows of both families go in one process, and only they.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { runCommand } from "../../../backends/exec/command.ts";
import { conntrackTool } from "../../../backends/exec/conntrack.ts";
import { prepareNamespace, tool } from "./namespace_helpers.ts";
import type { UdpFlow } from "../../../src/state/types.ts";

const DNAT = [
  "-d",
  "10.99.0.10/32",
  "-p",
  "udp",
  "--dport",
  "53",
  "-j",
  "DNAT",
  "--to-destination",
];

function has(flows: readonly UdpFlow[], flow: UdpFlow): boolean {
  return flows.some((f) => JSON.stringify(f) === JSON.stringify(flow));
}

/** One datagram from `localPort` to `host:port`; the answer does not matter. */
async function send(host: string, port: number, localPort: number): Promise<void> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(localPort, "127.0.0.1", () => resolve()));
  await new Promise<void>((resolve, reject) =>
    socket.send("q", port, host, (error) => error ? reject(error) : resolve())
  );
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}

Deno.test({
  name: "the conntrack tool lists a DNATed UDP flow and deletes exactly it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await prepareNamespace();
    await tool(["iptables", "-t", "nat", "-A", "OUTPUT", ...DNAT, "127.0.0.1:5353"]);
    await tool(["ip", "route", "add", "local", "10.99.0.0/24", "dev", "lo"]);
    try {
      await send("10.99.0.10", 53, 40053);
      await send("127.0.0.2", 999, 40054);
      const table = conntrackTool(runCommand);
      const flows = await table.list("ipv4");
      const service: UdpFlow = {
        family: "ipv4",
        origDst: "10.99.0.10",
        origDstPort: 53,
        replySrc: "127.0.0.1",
      };
      const other: UdpFlow = {
        family: "ipv4",
        origDst: "127.0.0.2",
        origDstPort: 999,
        replySrc: "127.0.0.2",
      };
      assert.ok(has(flows, service) && has(flows, other), JSON.stringify(flows));
      // Asked twice, deleted once: the second finds it gone, which is no problem.
      assert.deepEqual(await table.delete([service, service]), {
        deleted: 1,
        problems: [],
        writes: 1,
      });
      const left = await table.list("ipv4");
      assert.ok(!has(left, service) && has(left, other), JSON.stringify(left));
    } finally {
      await runCommand(["iptables", "-t", "nat", "-D", "OUTPUT", ...DNAT, "127.0.0.1:5353"]);
      await runCommand(["ip", "route", "del", "local", "10.99.0.0/24", "dev", "lo"]);
      await runCommand(["conntrack", "-F"]);
    }
  },
});

/** A UDP flow from client `i` to a service on port 53, answered by `endpoint`, made by the tool. */
async function createFlow(family: "ipv4" | "ipv6", i: number, endpoint: string): Promise<UdpFlow> {
  const [client, service] = family === "ipv4"
    ? [`10.0.${i >> 8}.${i & 255}`, "10.96.0.10"]
    : [`fd00::${i.toString(16)}`, "fd00::10"];
  const port = String(10000 + i);
  await tool([ // the family follows from the addresses: -I takes no -f
    "conntrack",
    "-I",
    "-p",
    "udp",
    "-s",
    client,
    "-d",
    service,
    "--sport",
    port,
    "--dport",
    "53",
    "-r",
    endpoint,
    "-q",
    client,
    "--reply-port-src",
    "53",
    "--reply-port-dst",
    port,
    "-t",
    "120",
  ]);
  return { family, origDst: service, origDstPort: 53, replySrc: endpoint };
}

Deno.test({
  name: "hundreds of stale flows of both families are deleted in one process, and only they",
  async fn() {
    await prepareNamespace();
    try {
      const flows: UdpFlow[] = [];
      for (let i = 1; i <= 150; i++) {
        flows.push(await createFlow("ipv4", i, i % 3 === 0 ? "10.244.0.3" : `10.244.1.${i}`));
      }
      for (let i = 1; i <= 50; i++) flows.push(await createFlow("ipv6", i, `fd01::${i}`));
      const kept = flows.filter((f) => f.replySrc === "10.244.0.3"); // 50 flows, one endpoint
      const stale = flows.filter((f) => f.replySrc !== "10.244.0.3");
      const table = conntrackTool(runCommand);
      const result = await table.delete(stale);
      assert.deepEqual(result, { deleted: stale.length, problems: [], writes: 1 });
      const left = [...await table.list("ipv4"), ...await table.list("ipv6")];
      assert.equal(left.length, kept.length, JSON.stringify(left.slice(0, 3)));
      assert.ok(left.every((f) => f.replySrc === "10.244.0.3"));
    } finally {
      await runCommand(["conntrack", "-F"]);
      await runCommand(["conntrack", "-F", "-f", "ipv6"]);
    }
  },
});
