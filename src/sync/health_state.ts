/**
 * The proxier's health as kube-proxy's `/healthz` reports it: healthy while the last successful
 * sync is recent (within twice the sync period).
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import { syncFailed, type SyncOutcome } from "./sync_outcome.ts";

/** What `/healthz` answers from. */
export interface HealthStatus {
  /** Whether a sync has succeeded within the health timeout. */
  readonly healthy: boolean;
  /** When the last successful sync ended (clock milliseconds), `undefined` before the first. */
  readonly lastUpdatedMs: number | undefined;
  /** The clock's time when the status was taken. */
  readonly currentTimeMs: number;
  /** Failed syncs since the last successful one. */
  readonly consecutiveFailures: number;
}

/**
 * Tracks the last successful sync and whether syncs are failing, on the injected clock.
 *
 * @example
 * ```ts
 * import { HealthState } from "./health_state.ts";
 * import { FakeClock } from "./clock.ts";
 * const health = new HealthState({ clock: new FakeClock(), syncPeriodMs: 30_000 });
 * console.assert(!health.check().healthy);
 * health.recordSync({ durationMs: 1, operationsByKind: {}, failures: 0, writes: 0 });
 * console.assert(health.check().healthy);
 * ```
 */
export class HealthState {
  readonly #clock: Clock;
  /** kube-proxy's healthTimeout: twice the sync period, so one slow or failed sync is tolerated. */
  readonly #timeoutMs: number;
  #lastUpdatedMs: number | undefined;
  #consecutiveFailures = 0;

  /** A state that is unhealthy until the first successful sync. */
  constructor(options: { readonly clock: Clock; readonly syncPeriodMs: number }) {
    this.#clock = options.clock;
    this.#timeoutMs = 2 * options.syncPeriodMs;
  }

  /** Records one finished sync: a success is the new last update, a failure is counted. */
  recordSync(outcome: SyncOutcome): void {
    if (syncFailed(outcome)) {
      this.#consecutiveFailures++;
    } else {
      this.#lastUpdatedMs = this.#clock.now();
      this.#consecutiveFailures = 0;
    }
  }

  /** The status now. */
  check(): HealthStatus {
    const now = this.#clock.now();
    const last = this.#lastUpdatedMs;
    return {
      healthy: last !== undefined && now - last <= this.#timeoutMs,
      lastUpdatedMs: last,
      currentTimeMs: now,
      consecutiveFailures: this.#consecutiveFailures,
    };
  }
}
