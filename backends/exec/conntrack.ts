/**
 * UDP conntrack flows through the `conntrack` tool (Debian package `conntrack`), for the
 * stale-flow cleanup after each sync: list a family's UDP flows, delete one flow by its
 * original destination, destination port and reply source. kube-proxy does the same through
 * netlink; the netlink backend does it through nfnetlink conntrack.
 *
 * @module
 */

import type { IptablesFamily, UdpFlow } from "../../src/state/types.ts";
import type { CommandRunner } from "./command.ts";
import type { FlowDeletion, UdpFlowTable } from "../backend.ts";

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

/** Every UDP flow of `family`; throws naming the tool when it cannot list them. */
export async function listUdpFlows(
  run: CommandRunner,
  family: IptablesFamily,
): Promise<UdpFlow[]> {
  const result = await run(["conntrack", "-L", "-p", "udp", "-f", FAMILY_FLAG[family]]);
  if (result.code !== 0) {
    const why = result.code === 127
      ? "conntrack is not installed (the Debian package conntrack)"
      : result.stderr.trim() || `exit code ${result.code}`;
    throw new Error(`conntrack -L: ${why}`);
  }
  return parseConntrackUdp(result.stdout, family);
}

/** The count in `conntrack v1.4.7 (conntrack-tools): 1 flow entries have been deleted.` */
function deletedCount(stderr: string): number | undefined {
  const match = /(\d+) flow entries have been deleted/.exec(stderr);
  return match === null ? undefined : Number(match[1]);
}

/**
 * Deletes each flow by its original destination, destination port and reply source. A flow
 * already gone (the tool's exit code 1 with "0 flow entries have been deleted") is no problem.
 */
export async function deleteUdpFlows(
  run: CommandRunner,
  flows: readonly UdpFlow[],
): Promise<FlowDeletion> {
  let deleted = 0;
  const problems: string[] = [];
  for (const flow of flows) {
    const argv = [
      "conntrack",
      "-D",
      "-p",
      "udp",
      "-f",
      FAMILY_FLAG[flow.family],
      "--orig-dst",
      flow.origDst,
      "--orig-port-dst",
      String(flow.origDstPort),
      "--reply-src",
      flow.replySrc,
    ];
    const result = await run(argv);
    const count = deletedCount(result.stderr);
    if (count !== undefined && (result.code === 0 || count === 0)) {
      deleted += count;
      continue;
    }
    problems.push(
      `${argv.join(" ")}: ${result.stderr.trim() || `exit code ${result.code}`}`,
    );
  }
  return { deleted, problems, writes: flows.length };
}

/** The {@linkcode UdpFlowTable} of the exec backend: the `conntrack` tool through `run`. */
export function conntrackTool(run: CommandRunner): UdpFlowTable {
  return {
    list: (family) => listUdpFlows(run, family),
    delete: (flows) => deleteUdpFlows(run, flows),
  };
}
