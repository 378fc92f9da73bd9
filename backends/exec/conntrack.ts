/**
 * UDP conntrack flows through the `conntrack` tool (Debian package `conntrack`), for the
 * stale-flow cleanup after each sync: list a family's UDP flows, delete one flow by its
 * original destination, destination port and reply source, all of a sync's in one process.
 * kube-proxy does the same through netlink; the netlink backend does it through nfnetlink
 * conntrack.
 *
 * @module
 */

import type { IptablesFamily, UdpFlow } from "../../src/state/types.ts";
import type { CommandResult, CommandRunner } from "./command.ts";
import type { FlowDeletion, UdpFlowTable } from "../backend.ts";
import { canonicalIp } from "../../src/net/ip.ts";

const FAMILY_FLAG: Record<IptablesFamily, string> = { ipv4: "ipv4", ipv6: "ipv6" };

/**
 * The UDP flows of `conntrack -L -p udp` output, e.g.
 * `udp 17 29 src=10.0.0.5 dst=10.96.0.10 sport=40000 dport=53 [UNREPLIED] src=10.244.1.2 dst=10.0.0.5 sport=5353 dport=40000 mark=0 use=1`.
 * Lines of another shape are skipped.
 *
 * @example
 * ```ts
 * parseConntrackUdp("udp 17 29 src=10.0.0.5 dst=10.96.0.10 sport=4 dport=53 src=10.244.1.2 dst=10.0.0.5 sport=53 dport=4\n", "ipv4");
 * // [{ family: "ipv4", origDst: "10.96.0.10", origDstPort: 53, replySrc: "10.244.1.2" }]
 * ```
 */
export function parseConntrackUdp(text: string, family: IptablesFamily): UdpFlow[] {
  const flows: UdpFlow[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (!fields.includes("udp")) continue;
    const values = (key: string) =>
      fields.filter((f) => f.startsWith(`${key}=`)).map((f) => f.slice(key.length + 1));
    // The first src/dst/dport are the original direction's, the second src the reply's.
    const [origDst] = values("dst");
    const [, replySrc] = values("src");
    const origDstPort = Number(values("dport")[0]);
    if (!origDst || !replySrc || !Number.isInteger(origDstPort)) continue;
    flows.push({ family, origDst, origDstPort, replySrc });
  }
  return flows;
}

/** Why a `conntrack` run failed: the missing package, or what the tool said. */
function whyFailed(result: CommandResult): string {
  return result.code === 127
    ? "conntrack is not installed (the Debian package conntrack)"
    : result.stderr.trim() || `exit code ${result.code}`;
}

/** Every UDP flow of `family`; throws naming the tool when it cannot list them. */
export async function listUdpFlows(
  run: CommandRunner,
  family: IptablesFamily,
): Promise<UdpFlow[]> {
  const result = await run(["conntrack", "-L", "-p", "udp", "-f", FAMILY_FLAG[family]]);
  if (result.code !== 0) throw new Error(`conntrack -L: ${whyFailed(result)}`);
  return parseConntrackUdp(result.stdout, family);
}

/**
 * The `conntrack` arguments that delete `flow` by its original destination, destination port
 * and reply source (one `-D` command, also a line of `conntrack -R -`), or `undefined` for a
 * flow whose values are not an address, a port and an address: they are written into the
 * tool's input, so nothing else may reach it.
 */
export function deleteArgs(flow: UdpFlow): string[] | undefined {
  const port = flow.origDstPort;
  if (canonicalIp(flow.origDst) === undefined || canonicalIp(flow.replySrc) === undefined) {
    return undefined;
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return [
    "-D",
    "-p",
    "udp",
    "-f",
    FAMILY_FLAG[flow.family],
    "--orig-dst",
    flow.origDst,
    "--orig-port-dst",
    String(port),
    "--reply-src",
    flow.replySrc,
  ];
}

/**
 * Deletes the flows by their original destination, destination port and reply source, in
 * one `conntrack -R -` process: one `-D` line each on its stdin, instead of a process per
 * flow. Each line still dumps the whole table (the tool's `-D` does), so this saves only the
 * process starts: 2,000 stale flows in 34.6 s against 57.9 s (`bench/conntrack_bench.ts`;
 * the netlink backend takes 127 ms). The tool prints each flow it deleted on stdout, and a
 * line that deletes nothing (a flow already gone) is no problem, as with `-D`. A line it
 * refuses ends the run with the lines before it done: the deletes are counted from stdout
 * all the same. A tool without `-R` (older conntrack-tools; not tested here, 1.4.7 has it)
 * deletes one process per flow.
 */
export async function deleteUdpFlows(
  run: CommandRunner,
  flows: readonly UdpFlow[],
): Promise<FlowDeletion> {
  const problems: string[] = [];
  const deletes: string[][] = [];
  for (const flow of flows) {
    const args = deleteArgs(flow);
    if (args === undefined) {
      problems.push(`not a flow conntrack can delete: ${JSON.stringify(flow)}`);
    } else deletes.push(args);
  }
  if (deletes.length === 0) return { deleted: 0, problems, writes: 0 };
  const stdin = deletes.map((args) => args.join(" ") + "\n").join("");
  const result = await run(["conntrack", "-R", "-"], { stdin });
  if (result.code !== 0 && /(invalid|unrecognized|unknown) option/i.test(result.stderr)) {
    const oneByOne = await deleteOneByOne(run, deletes);
    const writes = oneByOne.writes + 1; // the -R run was started too
    return { ...oneByOne, problems: [...problems, ...oneByOne.problems], writes };
  }
  const deleted = result.stdout.split("\n").filter((line) => /^\s*udp\s/.test(line)).length;
  if (result.code !== 0) {
    problems.push(`conntrack -R - (${deletes.length} deletes): ${whyFailed(result)}`);
  }
  return { deleted, problems, writes: 1 };
}

/** The count in `conntrack v1.4.7 (conntrack-tools): 1 flow entries have been deleted.` */
function deletedCount(stderr: string): number | undefined {
  const match = /(\d+) flow entries have been deleted/.exec(stderr);
  return match === null ? undefined : Number(match[1]);
}

/**
 * Runs `deletes` (those of {@linkcode deleteArgs}) one `conntrack -D` process each: the
 * way of a tool without `-R`, and the naive way the benchmark compares with. A flow already
 * gone (exit code 1 with "0 flow entries have been deleted") is no problem.
 */
export async function deleteOneByOne(
  run: CommandRunner,
  deletes: readonly (readonly string[])[],
): Promise<FlowDeletion> {
  let deleted = 0;
  const problems: string[] = [];
  for (const args of deletes) {
    const argv = ["conntrack", ...args];
    const result = await run(argv);
    const count = deletedCount(result.stderr);
    if (count !== undefined && (result.code === 0 || count === 0)) {
      deleted += count;
      continue;
    }
    problems.push(`${argv.join(" ")}: ${result.stderr.trim() || `exit code ${result.code}`}`);
  }
  return { deleted, problems, writes: deletes.length };
}

/** The {@linkcode UdpFlowTable} of the exec backend: the `conntrack` tool through `run`. */
export function conntrackTool(run: CommandRunner): UdpFlowTable {
  return {
    list: (family) => listUdpFlows(run, family),
    delete: (flows) => deleteUdpFlows(run, flows),
  };
}
