/**
 * The periodic full-sync loop: wait for the first complete snapshot, sync, then sync on every
 * change (rate-limited by minSyncPeriod) and every syncPeriod; retry failures with backoff.
 *
 * @module
 */

import { BoundedFrequencyRunner } from "./bounded_frequency_runner.ts";
import type { Clock } from "./clock.ts";
import type { HealthState } from "./health_state.ts";
import type { SyncMetrics } from "./metrics.ts";
import { formatDelay, formatSyncLine, syncFailed, type SyncOutcome } from "./sync_outcome.ts";

export { formatSyncLine, syncFailed, type SyncOutcome } from "./sync_outcome.ts";

/** How {@link runSyncLoop} is driven. */
export interface SyncLoopOptions {
  /** One full reconcile; may throw, which counts as a failed sync. */
  readonly syncOnce: () => Promise<SyncOutcome>;
  /** Resolves once the cluster snapshot is complete; no sync happens before. */
  readonly waitForFirstSnapshot: () => Promise<void>;
  /** Calls `onChange` on every Service/EndpointSlice/Node change; returns an unsubscribe. */
  readonly subscribe: (onChange: () => void) => () => void;
  /** Where time and sleeping come from. */
  readonly clock: Clock;
  /** Full-sync period in milliseconds (`ipvs.syncPeriod`). */
  readonly syncPeriodMs: number;
  /** Least time between two syncs in milliseconds (`ipvs.minSyncPeriod`). */
  readonly minSyncPeriodMs: number;
  /** Aborting it ends the loop once the sync in progress has finished. */
  readonly signal: AbortSignal;
  /** Receives one line per sync. */
  readonly log: (line: string) => void;
  /**
   * Retry delays after a failed sync: `initialMs`, doubling up to `maxMs`, reset by a success.
   * @default { initialMs: 1000, maxMs: syncPeriodMs }
   */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Updated after every sync and on every change, when given. */
  readonly metrics?: SyncMetrics;
  /** Updated after every sync, when given. */
  readonly health?: HealthState;
}

/** Exponential retry delays: `initialMs`, doubling, capped at `maxMs`. */
class Backoff {
  #nextMs: number;
  constructor(readonly initialMs: number, readonly maxMs: number) {
    this.#nextMs = Math.min(initialMs, maxMs);
  }
  /** The delay to use now; the following one doubles. */
  next(): number {
    const delay = this.#nextMs;
    this.#nextMs = Math.min(delay * 2, this.maxMs);
    return delay;
  }
  reset(): void {
    this.#nextMs = Math.min(this.initialMs, this.maxMs);
  }
}

/** Runs `syncOnce`, turning a thrown error into a failed outcome timed on the clock. */
async function timedSync(syncOnce: () => Promise<SyncOutcome>, clock: Clock) {
  const start = clock.now();
  try {
    return await syncOnce();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const outcome: SyncOutcome = {
      durationMs: clock.now() - start,
      operationsByKind: {},
      failures: 0,
      writes: 0,
      error: message,
    };
    return outcome;
  }
}

/** Resolves `true` once the first snapshot is complete, `false` if `signal` aborts first. */
async function firstSnapshot(wait: () => Promise<void>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  let onAbort = () => {};
  const aborted = new Promise<false>((resolve) => {
    onAbort = () => resolve(false);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  const ready = wait().then(() => true as const);
  try {
    return await Promise.race([ready, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
    // If the abort won, a later rejection of the wait has nobody to tell.
    ready.catch(() => {});
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}

/**
 * Runs the sync loop until `signal` aborts; resolves after the sync in progress finishes.
 * Rejects only if `waitForFirstSnapshot` does.
 *
 * @example
 * ```ts ignore
 * const controller = new AbortController();
 * Deno.addSignalListener("SIGTERM", () => controller.abort());
 * await runSyncLoop({
 *   syncOnce: () => proxier.sync(), waitForFirstSnapshot: () => informer.synced(),
 *   subscribe: (onChange) => informer.onChange(onChange), clock: realClock,
 *   syncPeriodMs: 30_000, minSyncPeriodMs: 0, signal: controller.signal, log: console.log,
 * });
 * ```
 */
export async function runSyncLoop(options: SyncLoopOptions): Promise<void> {
  const { clock, signal, log, metrics, health } = options;
  if (!await firstSnapshot(options.waitForFirstSnapshot, signal)) return;
  const backoff = new Backoff(
    options.backoff?.initialMs ?? 1000,
    options.backoff?.maxMs ?? options.syncPeriodMs,
  );
  const runner: BoundedFrequencyRunner = new BoundedFrequencyRunner({
    clock,
    minIntervalMs: options.minSyncPeriodMs,
    maxIntervalMs: options.syncPeriodMs,
    fn: async () => {
      const outcome = await timedSync(options.syncOnce, clock);
      metrics?.recordSync(outcome, clock.now());
      health?.recordSync(outcome);
      let line = formatSyncLine(outcome);
      if (syncFailed(outcome)) {
        const delay = backoff.next();
        runner.retryAfter(delay);
        line += `; retrying in ${formatDelay(delay)}`;
      } else {
        backoff.reset();
      }
      log(line);
    },
    onError: (error) => log(`sync: unexpected error: ${error}`),
  });
  const unsubscribe = options.subscribe(() => {
    metrics?.recordQueued(clock.now());
    health?.recordQueued();
    runner.run();
  });
  runner.start();
  runner.run();
  await aborted(signal);
  unsubscribe();
  await runner.stop();
}
