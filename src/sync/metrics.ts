/**
 * kube-proxy's sync metrics (`pkg/proxy/metrics`), rendered in the Prometheus text exposition
 * format 0.0.4. Only the metrics a sync loop can know; no Go runtime or process metrics.
 *
 * @module
 */

import type { SyncOutcome } from "./sync_outcome.ts";

/** kube-proxy's metric name prefix. */
export const METRIC_PREFIX = "kubeproxy_";

/** kube-proxy's latency buckets in seconds: exponential from 1 ms, factor 2, 14 buckets. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze(
  Array.from({ length: 14 }, (_, i) => 0.001 * 2 ** i),
);

/** The Content-Type of {@link SyncMetrics.render}'s text. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A number as the exposition format writes it. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function header(name: string, type: string, help: string): string[] {
  return [`# HELP ${METRIC_PREFIX}${name} ${help}`, `# TYPE ${METRIC_PREFIX}${name} ${type}`];
}

function sample(name: string, value: number, labels = ""): string {
  return `${METRIC_PREFIX}${name}${labels} ${formatValue(value)}`;
}

/**
 * The registry: updated after every sync and on every queued change, rendered on `/metrics`.
 *
 * @example
 * ```ts
 * import { SyncMetrics } from "./metrics.ts";
 * const metrics = new SyncMetrics();
 * metrics.recordSync({ durationMs: 3, operationsByKind: {}, failures: 0, writes: 0 }, Date.now());
 * console.log(metrics.render());
 * ```
 */
export class SyncMetrics {
  /** Per bucket (last one is +Inf), the observations that fell into it; cumulated on render. */
  readonly #bucketCounts = new Array<number>(DURATION_BUCKETS_SECONDS.length + 1).fill(0);
  #durationSum = 0;
  #durationCount = 0;
  #lastSyncSeconds = 0;
  #lastQueuedSeconds = 0;
  #restoreFailures = 0;
  #endpointChanges = 0;
  #serviceChanges = 0;

  /**
   * Records one sync that ended at `nowMs`: every sync's duration is observed, only a
   * successful one moves the last-sync timestamp, and a failed one counts one restore failure
   * (kube-proxy counts failed `iptables-restore` runs, at most one per sync).
   */
  recordSync(outcome: SyncOutcome, nowMs: number): void {
    const seconds = outcome.durationMs / 1000;
    const bucket = DURATION_BUCKETS_SECONDS.findIndex((le) => seconds <= le);
    this.#bucketCounts[bucket === -1 ? DURATION_BUCKETS_SECONDS.length : bucket]++;
    this.#durationSum += seconds;
    this.#durationCount++;
    this.#endpointChanges += outcome.endpointChanges ?? 0;
    this.#serviceChanges += outcome.serviceChanges ?? 0;
    // kube-proxy counts refused iptables-restore runs here, not every failed sync.
    if (outcome.iptablesRestoreFailed) this.#restoreFailures++;
    else this.#lastSyncSeconds = nowMs / 1000;
  }

  /** Records that a change queued a sync at `nowMs`. */
  recordQueued(nowMs: number): void {
    this.#lastQueuedSeconds = nowMs / 1000;
  }

  /** The metrics in the Prometheus text format, version 0.0.4, ending in a newline. */
  render(): string {
    return [
      ...this.#renderDuration(),
      ...header(
        "sync_proxy_rules_last_timestamp_seconds",
        "gauge",
        "The last time proxy rules were successfully synced",
      ),
      sample("sync_proxy_rules_last_timestamp_seconds", this.#lastSyncSeconds),
      ...header(
        "sync_proxy_rules_last_queued_timestamp_seconds",
        "gauge",
        "The last time a sync of proxy rules was queued",
      ),
      sample("sync_proxy_rules_last_queued_timestamp_seconds", this.#lastQueuedSeconds),
      ...header(
        "sync_proxy_rules_iptables_restore_failures_total",
        "counter",
        "Cumulative proxy iptables restore failures",
      ),
      sample("sync_proxy_rules_iptables_restore_failures_total", this.#restoreFailures),
      ...header(
        "sync_proxy_rules_endpoint_changes_total",
        "counter",
        "Cumulative proxy rules Endpoint changes",
      ),
      sample("sync_proxy_rules_endpoint_changes_total", this.#endpointChanges),
      ...header(
        "sync_proxy_rules_service_changes_total",
        "counter",
        "Cumulative proxy rules Service changes",
      ),
      sample("sync_proxy_rules_service_changes_total", this.#serviceChanges),
      "",
    ].join("\n");
  }

  #renderDuration(): string[] {
    const name = "sync_proxy_rules_duration_seconds";
    const lines = header(name, "histogram", "SyncProxyRules latency in seconds");
    let cumulative = 0;
    [...DURATION_BUCKETS_SECONDS, Infinity].forEach((le, i) => {
      cumulative += this.#bucketCounts[i];
      lines.push(sample(`${name}_bucket`, cumulative, `{le="${formatValue(le)}"}`));
    });
    lines.push(sample(`${name}_sum`, this.#durationSum));
    lines.push(sample(`${name}_count`, this.#durationCount));
    return lines;
  }
}
