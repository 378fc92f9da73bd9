/**
 * Deleting 2,000 stale UDP conntrack flows: the netlink backend's table (one dump, deletes in
 * batches), the exec backend's one `conntrack -R -` of `-D` lines, and the naive way, one
 * `conntrack -D` process per flow (what the exec backend did before). Each run inserts 2,000 flows of distinct destination ports (so each is its
 * own stale flow, as the cleanup would list them) with a ten-minute timeout, through one
 * netlink batch of `IPCTNL_MSG_CT_NEW`, so none expires while the tool works through them.
 *
 * Run as root: `deno run -A bench/conntrack_bench.ts`; it re-executes itself inside a fresh
 * `unshare -n` namespace, so the host's conntrack table is never touched. Not a `Deno.bench`
 * file: under `deno bench` (where `import.meta.main` is false) it does nothing.
 *
 * @module
 */

import { notPrivateNamespace } from "../tests/exec/private_namespace.ts";
import { runCommand } from "../backends/exec/command.ts";
import {
  deleteArgs,
  deleteOneByOne,
  deleteUdpFlows,
  listUdpFlows,
} from "../backends/exec/conntrack.ts";
import { NetlinkConntrack } from "../backends/netlink/conntrack.ts";
import {
  AF,
  type ConntrackTuple,
  CTA,
  IPCTNL_MSG,
  IPPROTO_UDP,
  NFNL_SUBSYS_CTNETLINK,
  writeTuple,
} from "../backends/netlink/conntrack_messages.ts";
import {
  AttributeWriter,
  concatBytes,
  type NetlinkRequest,
  NLM_F_CREATE,
  NLM_F_EXCL,
} from "../backends/netlink/message.ts";
import { NETLINK_NETFILTER, NetlinkSocket } from "../backends/netlink/socket.ts";
import type { UdpFlow } from "../src/state/types.ts";

const INSIDE_MARKER = "IPVS_PROXY_CONNTRACK_BENCH_IN_NETNS";
const FLOWS = 2000;
const CLIENT = [10, 0, 0, 5];
const SERVICE = [10, 96, 0, 10];
const ENDPOINT = [10, 244, 1, 2];

/** A flow from the client to the service's port `port`, DNATed to the endpoint. */
function newFlowRequest(port: number): NetlinkRequest {
  const tuple = (src: number[], dst: number[], sport: number, dport: number): ConntrackTuple => ({
    src: new Uint8Array(src),
    dst: new Uint8Array(dst),
    protocol: IPPROTO_UDP,
    srcPort: sport,
    dstPort: dport,
  });
  const w = new AttributeWriter()
    .nested(CTA.TUPLE_ORIG, (t) => writeTuple(t, tuple(CLIENT, SERVICE, 40000, port)))
    .nested(CTA.TUPLE_REPLY, (t) => writeTuple(t, tuple(ENDPOINT, CLIENT, port, 40000)))
    .u32(CTA.TIMEOUT, 600, { order: "net" });
  return {
    type: (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG.CT_NEW,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    payload: concatBytes([new Uint8Array([AF.ipv4, 0, 0, 0]), w.bytes()]),
  };
}

async function insertFlows(): Promise<UdpFlow[]> {
  const ports = Array.from({ length: FLOWS }, (_, i) => 10000 + i);
  const socket = NetlinkSocket.open(NETLINK_NETFILTER);
  try {
    const result = await socket.batch(ports.map(newFlowRequest), {
      operation: "conntrack insert",
      object: `${FLOWS} flows`,
    });
    if (result.failures.length > 0) throw new Error(JSON.stringify(result.failures[0]));
  } finally {
    socket.close();
  }
  const flows = await listUdpFlows(runCommand, "ipv4");
  if (flows.length !== FLOWS) throw new Error(`${flows.length} flows inserted, not ${FLOWS}`);
  return flows;
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await run();
  return { ms: performance.now() - start, result };
}

async function inside(): Promise<void> {
  const why = await notPrivateNamespace();
  if (why !== undefined) throw new Error(`refusing to run: ${why}`);
  const table = new NetlinkConntrack();
  try {
    let flows = await insertFlows();
    const netlink = await timed(() => table.delete(flows));
    flows = await insertFlows();
    const tool = await timed(() => deleteUdpFlows(runCommand, flows));
    flows = await insertFlows();
    const deletes = flows.map((flow) => deleteArgs(flow)!);
    const naive = await timed(() => deleteOneByOne(runCommand, deletes));
    const runs = [["netlink", netlink], ["conntrack -R", tool], ["conntrack -D", naive]] as const;
    for (const [name, run] of runs) {
      const { deleted, problems, writes } = run.result;
      const rate = Math.round(deleted / (run.ms / 1000));
      console.log(
        `${name.padEnd(12)} ${deleted} flows deleted in ${run.ms.toFixed(0).padStart(6)} ms ` +
          `(${rate} flows/s), ${writes} writes, ${problems.length} problems`,
      );
    }
    console.log(`netlink is ${(tool.ms / netlink.ms).toFixed(0)}x faster than conntrack -R`);
    console.log(`conntrack -R is ${(naive.ms / tool.ms).toFixed(0)}x faster than conntrack -D`);
  } finally {
    table.close();
    await runCommand(["conntrack", "-F"]);
  }
}

async function outside(): Promise<void> {
  if (Deno.uid() !== 0) throw new Error("needs root: it runs `unshare -n` and conntrack");
  const config = new URL("../deno.json", import.meta.url).pathname;
  const self = new URL(import.meta.url).pathname;
  const child = await new Deno.Command("unshare", {
    args: ["-n", Deno.execPath(), "run", "-A", "--config", config, self],
    env: { [INSIDE_MARKER]: "1" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  Deno.exit(child.code);
}

if (import.meta.main) {
  if (Deno.env.get(INSIDE_MARKER) === "1") await inside();
  else await outside();
}
