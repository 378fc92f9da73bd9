/**
 * What one sync did, and the one log line that says it.
 *
 * @module
 */

/** What one sync did: reported by the proxier's `syncOnce`, or made up by the loop when it threw. */
export interface SyncOutcome {
  /** How long the sync took, in milliseconds. */
  readonly durationMs: number;
  /** Operations of the applied plan by kind (`ipset.add`, `ipvs.addRealServer`, ...). */
  readonly operationsByKind: Readonly<Record<string, number>>;
  /** Operations the backend rejected. */
  readonly failures: number;
  /** Processes started or netlink batches sent. */
  readonly writes: number;
  /** Whether an `iptables-restore`/`ip6tables-restore` run was refused (a metric of its own). */
  readonly iptablesRestoreFailed?: boolean;
  /** EndpointSlice changes this sync took in (kube-proxy's endpoint_changes_total). */
  readonly endpointChanges?: number;
  /** Service changes this sync took in (kube-proxy's service_changes_total). */
  readonly serviceChanges?: number;
  /** Set when the sync failed as a whole (it threw). */
  readonly error?: string;
}

/** Whether a sync failed and must be retried: it threw, or the backend rejected an operation. */
export function syncFailed(outcome: SyncOutcome): boolean {
  return outcome.error !== undefined || outcome.failures > 0;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/**
 * The log line for one sync; the loop appends `; retrying in 2s` when it will retry.
 *
 * @example
 * ```ts
 * import { formatSyncLine } from "./sync_outcome.ts";
 * formatSyncLine({
 *   durationMs: 12.34, failures: 0, writes: 2,
 *   operationsByKind: { "ipvs.addRealServer": 2, "ipset.add": 3 },
 * });
 * // "sync: 12.3 ms, 5 operations (ipset.add 3, ipvs.addRealServer 2), 0 failures, 2 writes"
 * ```
 */
export function formatSyncLine(outcome: SyncOutcome): string {
  const ms = `${outcome.durationMs.toFixed(1)} ms`;
  if (outcome.error !== undefined) {
    // One line per sync, even when a tool's stderr spans several.
    return `sync failed after ${ms}: ${outcome.error.trim().replace(/\s*\n\s*/g, " | ")}`;
  }
  const kinds = Object.entries(outcome.operationsByKind)
    .filter(([, count]) => count > 0)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
  const total = kinds.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0 && outcome.failures === 0) return `sync: ${ms}, no changes`;
  const detail = kinds.length === 0 ? "" : ` (${kinds.map(([k, n]) => `${k} ${n}`).join(", ")})`;
  return `sync: ${ms}, ${plural(total, "operation")}${detail}, ` +
    `${plural(outcome.failures, "failure")}, ${plural(outcome.writes, "write")}`;
}

/** A delay the way Go prints durations, trimmed: `500ms`, `2s`, `1.5s`, `1m30s`. */
export function formatDelay(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.round(ms) / 1000;
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${Math.round((seconds - minutes * 60) * 1000) / 1000}s`;
}
