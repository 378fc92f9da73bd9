/**
 * The proxier's health as kube-proxy's `ProxyHealthServer` keeps it: healthy unless a change
 * has waited longer than the health timeout (twice the sync period) for a successful sync,
 * and whether this node is eligible for traffic (not being deleted, not tainted
 * `ToBeDeletedByClusterAutoscaler`), which only `/healthz` takes into account.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import { syncFailed, type SyncOutcome } from "./sync_outcome.ts";

/** What `/healthz` and `/livez` answer from. */
export interface HealthStatus {
  /** The proxier's health (`/livez`): no change has waited longer than the health timeout. */
  readonly healthy: boolean;
  /** Whether the node may take traffic; `/healthz` is healthy only when this is true too. */
  readonly nodeEligible: boolean;
  /** When the last successful sync ended (clock milliseconds), `undefined` before the first. */
  readonly lastUpdatedMs: number | undefined;
  /** The clock's time when the status was taken. */
  readonly currentTimeMs: number;
  /** Failed syncs since the last successful one. */
  readonly consecutiveFailures: number;
  /** Since when a change (or a failed sync's work) has waited for a successful sync. */
  readonly oldestPendingMs: number | undefined;
}

/** kube-proxy's taint for a node the cluster autoscaler is about to delete. */
export const TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler";

/** The parts of a Node object that decide whether it is eligible. */
export interface NodeEligibilityInput {
  /** Whether `metadata.deletionTimestamp` is set. */
  readonly deleting: boolean;
  /** The keys of `spec.taints[]`. */
  readonly taintKeys: readonly string[];
}

/**
 * kube-proxy's `SyncNode`: a node is eligible unless it is being deleted or carries the
 * `ToBeDeletedByClusterAutoscaler` taint.
 */
export function nodeEligible(node: NodeEligibilityInput): boolean {
  return !node.deleting && !node.taintKeys.includes(TO_BE_DELETED_TAINT);
}

/**
 * Tracks the last successful sync and the oldest change still waiting for one, on the
 * injected clock. As kube-proxy: healthy while starting up (nothing has waited too long yet),
 * and the node is eligible until told otherwise. One addition: a failed sync counts as work
 * waiting (kube-proxy counts only queued changes), so a proxier whose syncs keep failing
 * turns unhealthy after the timeout even when nothing changed.
 *
 * @example
 * ```ts
 * import { HealthState } from "./health_state.ts";
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * const health = new HealthState({ clock, syncPeriodMs: 30_000 });
 * health.recordQueued();
 * await clock.advance(60_001);
 * console.assert(!health.check().healthy);
 * health.recordSync({ durationMs: 1, operationsByKind: {}, failures: 0, writes: 0 });
 * console.assert(health.check().healthy);
 * ```
 */
export class HealthState {
  readonly #clock: Clock;
  /** kube-proxy's healthTimeout: twice the sync period. */
  readonly #timeoutMs: number;
  #lastUpdatedMs: number | undefined;
  #oldestPendingMs: number | undefined;
  #consecutiveFailures = 0;
  #nodeEligible = true;

  /** A state that is healthy until a change waits longer than twice `syncPeriodMs`. */
  constructor(options: { readonly clock: Clock; readonly syncPeriodMs: number }) {
    this.#clock = options.clock;
    this.#timeoutMs = 2 * options.syncPeriodMs;
  }

  /** The health timeout in milliseconds (twice the sync period). */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** kube-proxy's `QueuedUpdate`: a change arrived; it is pending until a successful sync. */
  recordQueued(): void {
    this.#oldestPendingMs ??= this.#clock.now();
  }

  /** Records one finished sync: a success clears what was pending, a failure leaves it pending. */
  recordSync(outcome: SyncOutcome): void {
    if (syncFailed(outcome)) {
      this.#consecutiveFailures++;
      this.recordQueued();
    } else {
      this.#lastUpdatedMs = this.#clock.now();
      this.#oldestPendingMs = undefined;
      this.#consecutiveFailures = 0;
    }
  }

  /** kube-proxy's `SyncNode`: whether this node is eligible (see {@link nodeEligible}). */
  setNodeEligible(eligible: boolean): void {
    this.#nodeEligible = eligible;
  }

  /** The status now. */
  check(): HealthStatus {
    const now = this.#clock.now();
    const pending = this.#oldestPendingMs;
    return {
      healthy: pending === undefined || now - pending < this.#timeoutMs,
      nodeEligible: this.#nodeEligible,
      lastUpdatedMs: this.#lastUpdatedMs,
      currentTimeMs: now,
      consecutiveFailures: this.#consecutiveFailures,
      oldestPendingMs: pending,
    };
  }
}
