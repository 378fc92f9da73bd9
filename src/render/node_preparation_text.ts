/**
 * The node preparation as the dry run prints it, ahead of the sync plan: every step a start
 * would take, as the command that does it, under one header per kind (`# modprobe`,
 * `# sysctl`, `# conntrack`, `# ipvsadm --set`, `# ip link`), so a reviewer sees the whole
 * effect of a start. Each step is conditional on the node (a module already loaded, a sysctl
 * already set, a larger conntrack table) and the headers say so.
 *
 * @module
 */

import type { NodePreparationStep } from "../node_prep/node_preparation.ts";
import { HASHSIZE_PATH } from "../node_prep/conntrack.ts";

type Section = "modprobe" | "sysctl" | "conntrack" | "ipvsadm" | "ip";

const HEADERS: Record<Section, string> = {
  modprobe: "# modprobe (each module not built in or loaded)",
  sysctl: "# sysctl (each value that differs)",
  conntrack: "# conntrack",
  ipvsadm: "# ipvsadm --set (tcp tcpfin udp, seconds)",
  ip: "# ip link (unless kube-ipvs0 exists; left down)",
};

const EMPTY: Record<Section, string> = {
  modprobe: "# modprobe: none",
  sysctl: "# sysctl: none",
  conntrack: "# conntrack: none (no conntrack settings, or all of them 0)",
  ipvsadm: "# ipvsadm --set: none (every IPVS timeout is 0: the kernel's are kept)",
  ip: "# ip link: none",
};

const dotted = (key: string) => key.replaceAll("/", ".");

function sectionOf(step: NodePreparationStep): Section {
  switch (step.kind) {
    case "modprobe":
      return "modprobe";
    case "sysctl":
      return "sysctl";
    case "conntrack-max":
    case "conntrack-hashsize":
    case "conntrack-sysctl":
      return "conntrack";
    case "ipvs-timeouts":
      return "ipvsadm";
    case "dummy-link":
      return "ip";
  }
}

function commandOf(step: NodePreparationStep): string {
  switch (step.kind) {
    case "modprobe":
      return `modprobe -- ${step.module}`;
    case "sysctl":
    case "conntrack-sysctl":
      return `sysctl -w ${dotted(step.key)}=${step.value}`;
    case "conntrack-max":
      return `sysctl -w net.netfilter.nf_conntrack_max=${step.value}`;
    case "conntrack-hashsize":
      return `echo ${step.value} > ${HASHSIZE_PATH}`;
    case "ipvs-timeouts":
      return `ipvsadm --set ${step.seconds.join(" ")}`;
    case "dummy-link":
      return `ip link add ${step.name} type dummy`;
  }
}

/** The conntrack header: how the maximum was computed, and that it and the table only grow. */
function conntrackHeader(steps: readonly NodePreparationStep[]): string {
  const max = steps.find((s) => s.kind === "conntrack-max");
  if (max?.kind !== "conntrack-max") return `${HEADERS.conntrack} (each value that differs)`;
  return `${HEADERS.conntrack} (nf_conntrack_max ${max.reason}; it and the hash size only ` +
    `raised, the hash size not on a read-only /sys; the rest each value that differs)`;
}

/**
 * The review text of `steps`, every section present (an empty one says `none` and why),
 * ending in a newline.
 *
 * @example
 * ```ts
 * import { computeNodePreparation } from "../node_prep/node_preparation.ts";
 * import { renderNodePreparationText } from "./node_preparation_text.ts";
 * const steps = computeNodePreparation(
 *   { scheduler: "rr", strictARP: false, tcpTimeoutMs: 0, tcpFinTimeoutMs: 0, udpTimeoutMs: 0 },
 *   { cpus: 2 },
 * );
 * console.log(renderNodePreparationText(steps));
 * ```
 */
export function renderNodePreparationText(steps: readonly NodePreparationStep[]): string {
  const lines: string[] = [];
  for (const section of Object.keys(HEADERS) as Section[]) {
    const commands = steps.filter((s) => sectionOf(s) === section).map(commandOf);
    if (commands.length === 0) {
      lines.push(EMPTY[section]);
      continue;
    }
    lines.push(section === "conntrack" ? conntrackHeader(steps) : HEADERS[section], ...commands);
  }
  return `${lines.join("\n")}\n`;
}
