/**
 * What a start does to the node before the first sync, computed from the config alone: the
 * kernel modules to load, the sysctls IPVS needs, kube-proxy's conntrack settings, the IPVS
 * connection timeouts (`ipvsadm --set`), and the dummy link `kube-ipvs0`. A pure description:
 * the exec backend carries the steps out (`backends/exec/node_preparation.ts`) and the dry run
 * prints them (`src/render/node_preparation_text.ts`).
 *
 * @module
 */

import { type ConntrackSetupConfig, type ConntrackStep, conntrackSteps } from "./conntrack.ts";
import { parseKernelRelease, requiredModules } from "./modules.ts";

export { type ConntrackSetupConfig, type ConntrackStep, DEFAULT_CONNTRACK } from "./conntrack.ts";
export {
  conntrackModule,
  isSchedulerName,
  type KernelVersion,
  parseKernelRelease,
  requiredModules,
} from "./modules.ts";

/** The resolved configuration fields node preparation uses. */
export interface NodePreparationConfig {
  /** `ipvs.scheduler`; `""` means `rr`. Its module is loaded with the others. */
  readonly scheduler: string;
  /** `ipvs.strictARP`: answer ARP only for addresses on the receiving interface. */
  readonly strictARP: boolean;
  /** `ipvs.tcpTimeout` in milliseconds; 0 keeps the kernel's value. */
  readonly tcpTimeoutMs: number;
  /** `ipvs.tcpFinTimeout` in milliseconds; 0 keeps the kernel's value. */
  readonly tcpFinTimeoutMs: number;
  /** `ipvs.udpTimeout` in milliseconds; 0 keeps the kernel's value. */
  readonly udpTimeoutMs: number;
  /**
   * The `conntrack` section; without it no conntrack setting is touched.
   * @default undefined
   */
  readonly conntrack?: ConntrackSetupConfig;
}

/** What the steps depend on besides the config: facts about the node. */
export interface NodeFacts {
  /** The node's CPU count, which scales `conntrack.maxPerCore`. */
  readonly cpus: number;
  /**
   * The kernel release (`6.1.0-18-amd64`): before 4.19 the conntrack module is
   * `nf_conntrack_ipv4`. Unknown means a recent kernel.
   * @default undefined
   */
  readonly kernelRelease?: string;
}

/** Load a kernel module unless it is built in or loaded. */
export interface ModprobeStep {
  /** The kind of step. */
  readonly kind: "modprobe";
  /** `ip_vs`, `ip_vs_rr`, ... */
  readonly module: string;
}

/** Set a sysctl (slash form, under `/proc/sys`) unless it already holds the value. */
export interface SysctlStep {
  /** The kind of step. */
  readonly kind: "sysctl";
  /** `net/ipv4/ip_forward`. */
  readonly key: string;
  /** `1`. */
  readonly value: string;
  /** Whether the key exists only when the kernel has IPVS (`net/ipv4/vs/...`). */
  readonly ipvs: boolean;
}

/** `ipvsadm --set tcp tcpfin udp`, in whole seconds (0 keeps that one). */
export interface IpvsTimeoutsStep {
  /** The kind of step. */
  readonly kind: "ipvs-timeouts";
  /** Seconds for TCP, TCP FIN and UDP. */
  readonly seconds: readonly [tcp: number, tcpFin: number, udp: number];
}

/** Create the dummy link unless it exists (left down, as kube-proxy does). */
export interface DummyLinkStep {
  /** The kind of step. */
  readonly kind: "dummy-link";
  /** `kube-ipvs0`. */
  readonly name: string;
}

/** One thing a start does to the node. */
export type NodePreparationStep =
  | ModprobeStep
  | SysctlStep
  | ConntrackStep
  | IpvsTimeoutsStep
  | DummyLinkStep;

/** The dummy link kube-proxy binds service addresses to. */
export const DUMMY_LINK = "kube-ipvs0";

/**
 * The sysctls kube-proxy's IPVS mode sets, in order: forwarding and (with `strictARP`) ARP
 * first, then the IPVS ones, whose files exist only when the kernel has IPVS.
 */
export function requiredSysctls(strictARP: boolean): [key: string, value: string][] {
  const arp: [string, string][] = strictARP
    ? [["net/ipv4/conf/all/arp_ignore", "1"], ["net/ipv4/conf/all/arp_announce", "2"]]
    : [];
  return [
    ["net/ipv4/ip_forward", "1"],
    ...arp,
    ["net/ipv4/vs/conntrack", "1"],
    ["net/ipv4/vs/expire_nodest_conn", "1"],
    ["net/ipv4/vs/expire_quiescent_template", "1"],
  ];
}

/** `ipvsadm --set` takes whole seconds; kube-proxy truncates the durations the same way. */
export function timeoutSeconds(
  config: Pick<NodePreparationConfig, "tcpTimeoutMs" | "tcpFinTimeoutMs" | "udpTimeoutMs">,
): [tcp: number, tcpFin: number, udp: number] {
  const seconds = (ms: number) => Math.max(0, Math.trunc(ms / 1000));
  return [
    seconds(config.tcpTimeoutMs),
    seconds(config.tcpFinTimeoutMs),
    seconds(config.udpTimeoutMs),
  ];
}

/**
 * Every step a start takes, in order: modprobe, sysctl, conntrack, `ipvsadm --set` (only when
 * a timeout is configured), the dummy link. Each step is idempotent: carrying it out on a node
 * that is already prepared changes nothing.
 *
 * @example
 * ```ts
 * import { computeNodePreparation } from "./node_preparation.ts";
 * const steps = computeNodePreparation(
 *   { scheduler: "rr", strictARP: false, tcpTimeoutMs: 0, tcpFinTimeoutMs: 0, udpTimeoutMs: 0 },
 *   { cpus: 2 },
 * );
 * console.assert(steps[0].kind === "modprobe");
 * ```
 */
export function computeNodePreparation(
  config: NodePreparationConfig,
  facts: NodeFacts,
): NodePreparationStep[] {
  const scheduler = config.scheduler === "" ? "rr" : config.scheduler;
  const version = parseKernelRelease(facts.kernelRelease ?? "");
  const steps: NodePreparationStep[] = requiredModules(version, scheduler).map((module) => ({
    kind: "modprobe",
    module,
  }));
  for (const [key, value] of requiredSysctls(config.strictARP)) {
    steps.push({ kind: "sysctl", key, value, ipvs: key.startsWith("net/ipv4/vs/") });
  }
  if (config.conntrack) steps.push(...conntrackSteps(config.conntrack, facts.cpus));
  const seconds = timeoutSeconds(config);
  if (seconds.some((s) => s > 0)) steps.push({ kind: "ipvs-timeouts", seconds });
  steps.push({ kind: "dummy-link", name: DUMMY_LINK });
  return steps;
}

/**
 * What a start in iptables mode takes: only the conntrack settings, which kube-proxy applies
 * in every mode (its server, not its proxier). iptables mode loads no IPVS module, sets no
 * IPVS sysctl and makes no `kube-ipvs0`; `route_localnet` is not set because this proxy does
 * not program NodePorts on localhost.
 *
 * @example
 * ```ts
 * import { computeIptablesNodePreparation } from "./node_preparation.ts";
 * computeIptablesNodePreparation({ scheduler: "", strictARP: false, tcpTimeoutMs: 0,
 *   tcpFinTimeoutMs: 0, udpTimeoutMs: 0 }, { cpus: 2 }); // []: no conntrack settings given
 * ```
 */
export function computeIptablesNodePreparation(
  config: NodePreparationConfig,
  facts: NodeFacts,
): NodePreparationStep[] {
  return config.conntrack ? conntrackSteps(config.conntrack, facts.cpus) : [];
}

/** The modules among `steps`, in order. */
export function modulesOf(steps: readonly NodePreparationStep[]): string[] {
  return steps.flatMap((step) => step.kind === "modprobe" ? [step.module] : []);
}
