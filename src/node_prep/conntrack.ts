/**
 * kube-proxy's conntrack settings (`pkg/proxy/conntrack`, applied in every mode at start):
 * `nf_conntrack_max` from `maxPerCore` x CPUs (at least `min`, at most 1,048,576), only ever
 * raised; the conntrack hash table to a quarter of it, only ever grown; and the TCP and UDP
 * timeouts and `be_liberal`, each only when configured (a zero timeout or `false` leaves the
 * kernel's value alone).
 *
 * @module
 */

/** The resolved `conntrack` section of a `KubeProxyConfiguration`. */
export interface ConntrackSetupConfig {
  /** `conntrack.maxPerCore`; 0 leaves `nf_conntrack_max` and the hash size alone. */
  readonly maxPerCore: number;
  /** `conntrack.min`: the floor for the scaled value. */
  readonly min: number;
  /** `conntrack.tcpEstablishedTimeout` in milliseconds; 0 leaves it alone. */
  readonly tcpEstablishedTimeoutMs: number;
  /** `conntrack.tcpCloseWaitTimeout` in milliseconds; 0 leaves it alone. */
  readonly tcpCloseWaitTimeoutMs: number;
  /** `conntrack.tcpBeLiberal`: accept out-of-window TCP packets; false leaves it alone. */
  readonly tcpBeLiberal: boolean;
  /** `conntrack.udpTimeout` in milliseconds; 0 leaves it alone. */
  readonly udpTimeoutMs: number;
  /** `conntrack.udpStreamTimeout` in milliseconds; 0 leaves it alone. */
  readonly udpStreamTimeoutMs: number;
}

/** kube-proxy's defaults: 32768 per core, min 131072, 24h established, 1h close-wait. */
export const DEFAULT_CONNTRACK: ConntrackSetupConfig = Object.freeze({
  maxPerCore: 32768,
  min: 131072,
  tcpEstablishedTimeoutMs: 24 * 3600_000,
  tcpCloseWaitTimeoutMs: 3600_000,
  tcpBeLiberal: false,
  udpTimeoutMs: 0,
  udpStreamTimeoutMs: 0,
});

/** kube-proxy caps the scaled value so that a many-core node does not get a huge table. */
export const CONNTRACK_MAX_LIMIT = 1_048_576;

/** Where the conntrack hash table size is set (global: the initial network namespace's). */
export const HASHSIZE_PATH = "/sys/module/nf_conntrack/parameters/hashsize";

/** Raise `net/netfilter/nf_conntrack_max` to `value` if it is lower. */
export interface ConntrackMaxStep {
  /** The kind of step. */
  readonly kind: "conntrack-max";
  /** The computed maximum. */
  readonly value: number;
  /** How it was computed, for the log and the dry run. */
  readonly reason: string;
}

/** Grow the hash table (`/sys/module/nf_conntrack/parameters/hashsize`) to `value` if smaller. */
export interface ConntrackHashsizeStep {
  /** The kind of step. */
  readonly kind: "conntrack-hashsize";
  /** A quarter of the maximum, rounded down. */
  readonly value: number;
}

/** Set one per-namespace conntrack sysctl unless it already holds the value. */
export interface ConntrackSysctlStep {
  /** The kind of step. */
  readonly kind: "conntrack-sysctl";
  /** `net/netfilter/nf_conntrack_tcp_timeout_established`. */
  readonly key: string;
  /** `86400`. */
  readonly value: string;
}

/** One conntrack setting. */
export type ConntrackStep = ConntrackMaxStep | ConntrackHashsizeStep | ConntrackSysctlStep;

/**
 * kube-proxy's `getConntrackMax`: `maxPerCore` x `cpus`, capped at 1,048,576, raised to `min`;
 * `undefined` when `maxPerCore` is 0 (leave it alone).
 */
export function conntrackMax(
  config: Pick<ConntrackSetupConfig, "maxPerCore" | "min">,
  cpus: number,
): { value: number; reason: string } | undefined {
  if (config.maxPerCore <= 0) return undefined;
  const scaled = config.maxPerCore * cpus;
  const product = `${config.maxPerCore} per core x ${cpus} CPU${cpus === 1 ? "" : "s"}`;
  if (scaled > CONNTRACK_MAX_LIMIT) {
    return { value: CONNTRACK_MAX_LIMIT, reason: `${product}, capped at ${CONNTRACK_MAX_LIMIT}` };
  }
  if (scaled > config.min) return { value: scaled, reason: `${product} = ${scaled}` };
  return { value: config.min, reason: `${product} = ${scaled}, below min ${config.min}` };
}

const seconds = (ms: number) => String(Math.trunc(ms / 1000));

/** The conntrack steps, in kube-proxy's order. */
export function conntrackSteps(config: ConntrackSetupConfig, cpus: number): ConntrackStep[] {
  const steps: ConntrackStep[] = [];
  const max = conntrackMax(config, cpus);
  if (max) {
    steps.push({ kind: "conntrack-max", ...max });
    steps.push({ kind: "conntrack-hashsize", value: Math.trunc(max.value / 4) });
  }
  const sysctl = (name: string, value: string): ConntrackSysctlStep => ({
    kind: "conntrack-sysctl",
    key: `net/netfilter/${name}`,
    value,
  });
  // Sub-second durations truncate to 0 seconds, which kube-proxy would write; so would we.
  if (config.tcpEstablishedTimeoutMs > 0) {
    steps.push(
      sysctl("nf_conntrack_tcp_timeout_established", seconds(config.tcpEstablishedTimeoutMs)),
    );
  }
  if (config.tcpCloseWaitTimeoutMs > 0) {
    steps.push(
      sysctl("nf_conntrack_tcp_timeout_close_wait", seconds(config.tcpCloseWaitTimeoutMs)),
    );
  }
  if (config.tcpBeLiberal) steps.push(sysctl("nf_conntrack_tcp_be_liberal", "1"));
  if (config.udpTimeoutMs > 0) {
    steps.push(sysctl("nf_conntrack_udp_timeout", seconds(config.udpTimeoutMs)));
  }
  if (config.udpStreamTimeoutMs > 0) {
    steps.push(sysctl("nf_conntrack_udp_timeout_stream", seconds(config.udpStreamTimeoutMs)));
  }
  return steps;
}

/**
 * The number of CPUs in a kernel CPU list such as `/sys/devices/system/cpu/online`'s `0-3,8`;
 * `undefined` when the text is not such a list. kube-proxy sizes `nf_conntrack_max` by the
 * node's online CPUs, not the process's CPU set.
 */
export function parseCpuList(text: string): number | undefined {
  let count = 0;
  for (const part of text.trim().split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (match === null) return undefined;
    const first = Number(match[1]);
    const last = Number(match[2] ?? match[1]);
    if (last < first) return undefined;
    count += last - first + 1;
  }
  return count > 0 ? count : undefined;
}
