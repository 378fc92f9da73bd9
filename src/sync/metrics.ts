/**
 * kube-proxy's metrics for IPVS mode (`pkg/proxy/metrics`, with their names, labels, help
 * texts and buckets) and the Go client's `process_*` metrics, rendered in the Prometheus text
 * exposition format 0.0.4 the way the Go client writes it: families sorted by name, numbers
 * in Go's shortest form (`1.7e+09`).
 *
 * @module
 */

import { type ProcessStats, readProcessStats } from "./process_metrics.ts";
import { syncFailed, type SyncOutcome } from "./sync_outcome.ts";

/** kube-proxy's metric name prefix. */
export const METRIC_PREFIX = "kubeproxy_";

/** kube-proxy's sync latency buckets in seconds: `ExponentialBuckets(0.001, 2, 15)`. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze(
  Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i),
);

const linear = (start: number, width: number, count: number) =>
  Array.from({ length: count }, (_, i) => start + i * width);

/** kube-proxy's network programming buckets: 0, 0.25 s, 0.5 s, 1-59 s, 60-115 s, 2-5 min. */
export const NETWORK_PROGRAMMING_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0,
  ...linear(0.25, 0.25, 2),
  ...linear(1, 1, 59),
  ...linear(60, 5, 12),
  ...linear(120, 30, 7),
]);

/** The Content-Type of {@link SyncMetrics.render}'s text. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** kube-proxy's `ip_family` label values. */
export type IpFamilyLabel = "IPv4" | "IPv6";

/**
 * A number as the Go client writes it (`strconv.FormatFloat(v, 'g', -1, 64)`): the shortest
 * digits, in exponent form from 1e6 up and below 1e-4.
 *
 * @example
 * ```ts
 * import { formatGoFloat } from "./metrics.ts";
 * console.assert(formatGoFloat(1700000000.5) === "1.7000000005e+09");
 * ```
 */
export function formatGoFloat(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (value === 0) return "0";
  const [mantissa, exponent] = value.toExponential().split("e");
  const exp = Number(exponent);
  if (exp < -4 || exp >= 6) {
    const digits = String(Math.abs(exp)).padStart(2, "0");
    return `${mantissa}e${exp < 0 ? "-" : "+"}${digits}`;
  }
  return String(value);
}

/** Label text for `{a="x",b="y"}`, or "" without labels. */
function labelText(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

class Histogram {
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  constructor(readonly buckets: readonly number[]) {
    this.#counts = new Array<number>(buckets.length + 1).fill(0);
  }
  observe(value: number): void {
    const i = this.buckets.findIndex((le) => value <= le);
    this.#counts[i === -1 ? this.buckets.length : i]++;
    this.#sum += value;
    this.#count++;
  }
  lines(name: string, labels: Readonly<Record<string, string>>): string[] {
    let cumulative = 0;
    const lines = [...this.buckets, Infinity].map((le, i) => {
      cumulative += this.#counts[i];
      const bucketLabels = labelText({ ...labels, le: formatGoFloat(le) });
      return `${name}_bucket${bucketLabels} ${cumulative}`;
    });
    lines.push(`${name}_sum${labelText(labels)} ${formatGoFloat(this.#sum)}`);
    lines.push(`${name}_count${labelText(labels)} ${this.#count}`);
    return lines;
  }
}

/** One metric family: name (without prefix for process metrics), type, help, sample lines. */
interface Family {
  readonly name: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly help: string;
  readonly lines: string[];
}

/** Options of {@link SyncMetrics}. */
export interface SyncMetricsOptions {
  /**
   * The families the proxier runs, in order (the primary first): each per-family metric gets
   * one series per family labelled `ip_family`, as kube-proxy's. Without it those metrics
   * have one series and no label.
   * @default []
   */
  readonly ipFamilies?: readonly IpFamilyLabel[];
  /**
   * Where the `process_*` metrics come from; `false` leaves them out.
   * @default {readProcessStats} (this process's /proc/self)
   */
  readonly processStats?: (() => ProcessStats | undefined) | false;
}

/** No-local-endpoints counts of one family, by traffic policy. */
export interface NoLocalEndpoints {
  /** The family; omit when the metrics have no `ip_family` label. */
  readonly family?: IpFamilyLabel;
  /** Services with `internalTrafficPolicy: Local` and no endpoint on this node. */
  readonly internal: number;
  /** Services with `externalTrafficPolicy: Local` and no endpoint on this node. */
  readonly external: number;
}

/**
 * The registry: updated after every sync and on every queued change, rendered on `/metrics`.
 *
 * @example
 * ```ts
 * import { SyncMetrics } from "./metrics.ts";
 * const metrics = new SyncMetrics({ ipFamilies: ["IPv4"], processStats: false });
 * metrics.recordSync({ durationMs: 3, operationsByKind: {}, failures: 0, writes: 0 }, Date.now());
 * console.log(metrics.render());
 * ```
 */
export class SyncMetrics {
  readonly #families: readonly (IpFamilyLabel | "")[];
  readonly #processStats: (() => ProcessStats | undefined) | undefined;
  readonly #duration = new Map<string, Histogram>();
  readonly #networkProgramming = new Map<string, Histogram>();
  readonly #lastSync = new Map<string, number>();
  readonly #lastQueued = new Map<string, number>();
  readonly #restoreFailures = new Map<string, number>();
  readonly #noLocal = new Map<string, NoLocalEndpoints>();
  readonly #healthz = new Map<string, number>();
  readonly #livez = new Map<string, number>();
  #endpointChanges = 0;
  #serviceChanges = 0;
  #endpointChangesPending = 0;
  #serviceChangesPending = 0;

  /** Every metric at zero. */
  constructor(options: SyncMetricsOptions = {}) {
    const families = options.ipFamilies ?? [];
    this.#families = families.length === 0 ? [""] : [...families];
    this.#processStats = options.processStats === false
      ? undefined
      : options.processStats ?? readProcessStats;
    for (const family of this.#families) {
      this.#duration.set(family, new Histogram(DURATION_BUCKETS_SECONDS));
      this.#networkProgramming.set(family, new Histogram(NETWORK_PROGRAMMING_BUCKETS_SECONDS));
      this.#lastSync.set(family, 0);
      this.#lastQueued.set(family, 0);
      this.#restoreFailures.set(family, 0);
    }
  }

  /**
   * Records one sync that ended at `nowMs`, for every family (one sync programs them all):
   * its duration is observed, a successful one moves the last-sync timestamp, a refused
   * `iptables-restore` counts one restore failure (on the primary family: the outcome does
   * not say which), and the pending changes are taken in.
   */
  recordSync(outcome: SyncOutcome, nowMs: number): void {
    const seconds = outcome.durationMs / 1000;
    for (const family of this.#families) this.#duration.get(family)!.observe(seconds);
    this.#endpointChanges += outcome.endpointChanges ?? 0;
    this.#serviceChanges += outcome.serviceChanges ?? 0;
    this.#endpointChangesPending = 0;
    this.#serviceChangesPending = 0;
    if (outcome.iptablesRestoreFailed) {
      const primary = this.#families[0];
      this.#restoreFailures.set(primary, this.#restoreFailures.get(primary)! + 1);
    }
    if (!syncFailed(outcome)) {
      for (const family of this.#families) this.#lastSync.set(family, nowMs / 1000);
    }
  }

  /** Records that a change queued a sync at `nowMs`. */
  recordQueued(nowMs: number): void {
    for (const family of this.#families) this.#lastQueued.set(family, nowMs / 1000);
  }

  /** The changes seen but not synced yet (`sync_proxy_rules_*_changes_pending`). */
  setPendingChanges(pending: { readonly services: number; readonly endpoints: number }): void {
    this.#serviceChangesPending = pending.services;
    this.#endpointChangesPending = pending.endpoints;
  }

  /**
   * One network programming latency: from an EndpointSlice's
   * `endpoints.kubernetes.io/last-change-trigger-time` to the end of the sync that programmed
   * it, in seconds. Negative values (clock skew) are dropped, as kube-proxy drops them.
   */
  observeNetworkProgramming(seconds: number, family?: IpFamilyLabel): void {
    if (!(seconds >= 0)) return;
    this.#networkProgramming.get(this.#familyKey(family))?.observe(seconds);
  }

  /** This sync's count of Local-policy services without a local endpoint, by policy. */
  setNoLocalEndpoints(counts: NoLocalEndpoints): void {
    this.#noLocal.set(this.#familyKey(counts.family), counts);
  }

  /** One `/healthz` answer with HTTP status `code`. */
  recordHealthz(code: number): void {
    this.#healthz.set(String(code), (this.#healthz.get(String(code)) ?? 0) + 1);
  }

  /** One `/livez` answer with HTTP status `code`. */
  recordLivez(code: number): void {
    this.#livez.set(String(code), (this.#livez.get(String(code)) ?? 0) + 1);
  }

  #familyKey(family: IpFamilyLabel | undefined): string {
    return this.#families[0] === "" ? "" : family ?? this.#families[0];
  }

  #labels(family: string): Record<string, string> {
    return family === "" ? {} : { ip_family: family };
  }

  /** The metrics in the Prometheus text format, version 0.0.4, ending in a newline. */
  render(): string {
    const families = [...this.#proxyFamilies(), ...this.#processFamilies()]
      .filter((f) => f.lines.length > 0)
      .sort((a, b) => a.name < b.name ? -1 : 1);
    return families.flatMap((f) => [
      `# HELP ${f.name} ${f.help}`,
      `# TYPE ${f.name} ${f.type}`,
      ...f.lines,
    ]).join("\n") + "\n";
  }

  #perFamily(values: Map<string, number>, name: string): string[] {
    return [...values].map(([family, v]) =>
      `${name}${labelText(this.#labels(family))} ${formatGoFloat(v)}`
    );
  }

  /** kube-proxy's families: name (after the prefix), type, help (kube-proxy's), samples. */
  #proxyFamilies(): Family[] {
    const p = (name: string) => `${METRIC_PREFIX}${name}`;
    const histogram = (name: string, values: Map<string, Histogram>) =>
      [...values].flatMap(([family, h]) => h.lines(p(name), this.#labels(family)));
    const one = (name: string, value: number) => [`${p(name)} ${formatGoFloat(value)}`];
    const byCode = (name: string, counts: Map<string, number>) =>
      [...counts].map(([code, n]) => `${p(name)}{code="${code}"} ${formatGoFloat(n)}`);
    const perFamily = (name: string, values: Map<string, number>) =>
      this.#perFamily(values, p(name));
    const rows: [string, Family["type"], string, (name: string) => string[]][] = [
      [
        "network_programming_duration_seconds",
        "histogram",
        "In Cluster Network Programming Latency in seconds",
        (n) => histogram(n, this.#networkProgramming),
      ],
      [
        "proxy_healthz_total",
        "counter",
        "Cumulative proxy healthz HTTP status",
        (n) => byCode(n, this.#healthz),
      ],
      [
        "proxy_livez_total",
        "counter",
        "Cumulative proxy livez HTTP status",
        (n) => byCode(n, this.#livez),
      ],
      [
        "sync_proxy_rules_duration_seconds",
        "histogram",
        "SyncProxyRules latency in seconds",
        (n) => histogram(n, this.#duration),
      ],
      [
        "sync_proxy_rules_endpoint_changes_pending",
        "gauge",
        "Pending proxy rules Endpoint changes",
        (n) => one(n, this.#endpointChangesPending),
      ],
      [
        "sync_proxy_rules_endpoint_changes_total",
        "counter",
        "Cumulative proxy rules Endpoint changes",
        (n) => one(n, this.#endpointChanges),
      ],
      [
        "sync_proxy_rules_iptables_restore_failures_total",
        "counter",
        "Cumulative proxy iptables restore failures",
        (n) => perFamily(n, this.#restoreFailures),
      ],
      [
        "sync_proxy_rules_last_queued_timestamp_seconds",
        "gauge",
        "The last time a sync of proxy rules was queued",
        (n) => perFamily(n, this.#lastQueued),
      ],
      [
        "sync_proxy_rules_last_timestamp_seconds",
        "gauge",
        "The last time proxy rules were successfully synced",
        (n) => perFamily(n, this.#lastSync),
      ],
      [
        "sync_proxy_rules_no_local_endpoints_total",
        "gauge",
        "Number of services with a Local traffic policy and no endpoints",
        (n) => this.#noLocalLines(p(n)),
      ],
      [
        "sync_proxy_rules_service_changes_pending",
        "gauge",
        "Pending proxy rules Service changes",
        (n) => one(n, this.#serviceChangesPending),
      ],
      [
        "sync_proxy_rules_service_changes_total",
        "counter",
        "Cumulative proxy rules Service changes",
        (n) => one(n, this.#serviceChanges),
      ],
    ];
    // component-base marks every kube-proxy metric's help with its stability level.
    return rows.map(([name, type, help, lines]) => ({
      name: p(name),
      type,
      help: `[ALPHA] ${help}`,
      lines: lines(name),
    }));
  }

  #noLocalLines(name: string): string[] {
    return [...this.#noLocal].flatMap(([family, counts]) =>
      (["external", "internal"] as const).map((policy) => {
        const labels = labelText({ ...this.#labels(family), traffic_policy: policy });
        return `${name}${labels} ${formatGoFloat(counts[policy])}`;
      })
    );
  }

  #processFamilies(): Family[] {
    const stats = this.#processStats?.();
    if (stats === undefined) return [];
    const gauge = (name: string, help: string, value: number): Family => ({
      name,
      type: "gauge",
      help,
      lines: [`${name} ${formatGoFloat(value)}`],
    });
    return [
      {
        name: "process_cpu_seconds_total",
        type: "counter",
        help: "Total user and system CPU time spent in seconds.",
        lines: [`process_cpu_seconds_total ${formatGoFloat(stats.cpuSeconds)}`],
      },
      gauge("process_max_fds", "Maximum number of open file descriptors.", stats.maxFds),
      gauge("process_open_fds", "Number of open file descriptors.", stats.openFds),
      gauge("process_resident_memory_bytes", "Resident memory size in bytes.", stats.residentBytes),
      gauge(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        stats.startTimeSeconds,
      ),
      gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", stats.virtualBytes),
      gauge(
        "process_virtual_memory_max_bytes",
        "Maximum amount of virtual memory available in bytes.",
        stats.virtualMaxBytes,
      ),
    ];
  }
}
