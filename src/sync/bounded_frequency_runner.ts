/**
 * kube-proxy's BoundedFrequencyRunner (`k8s.io/kubernetes/pkg/util/async`): runs one function,
 * one call at a time, no more often than a minimum interval and no less often than a maximum one.
 *
 * @module
 */

import type { Clock } from "./clock.ts";

/** How a {@link BoundedFrequencyRunner} is built. */
export interface BoundedFrequencyRunnerOptions {
  /** The work; never called twice at once. A thrown error goes to `onError`. */
  readonly fn: () => Promise<void>;
  /** Where time and sleeping come from. */
  readonly clock: Clock;
  /** Least time between the starts of two runs, in milliseconds (kube-proxy's minSyncPeriod). */
  readonly minIntervalMs: number;
  /** Most time between the starts of two runs, in milliseconds (kube-proxy's syncPeriod). */
  readonly maxIntervalMs: number;
  /**
   * Told about an error `fn` threw; the runner carries on either way.
   * @default reports it with `console.error`
   */
  readonly onError?: (error: unknown) => void;
}

/**
 * Runs `fn` when asked ({@link BoundedFrequencyRunner.run}), coalescing requests, at most once
 * per `minIntervalMs` and at least once per `maxIntervalMs`; {@link BoundedFrequencyRunner.retryAfter}
 * schedules a retry. A request that arrives during a run schedules exactly one run after it.
 *
 * @example
 * ```ts
 * import { BoundedFrequencyRunner } from "./bounded_frequency_runner.ts";
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * let runs = 0;
 * const runner = new BoundedFrequencyRunner({
 *   fn: async () => void runs++, clock, minIntervalMs: 1000, maxIntervalMs: 30_000,
 * });
 * runner.start();
 * runner.run();
 * runner.run();
 * await clock.advance(0);
 * await runner.stop();
 * console.assert(runs === 1);
 * ```
 */
export class BoundedFrequencyRunner {
  readonly #fn: () => Promise<void>;
  readonly #clock: Clock;
  readonly #minIntervalMs: number;
  readonly #maxIntervalMs: number;
  readonly #onError: (error: unknown) => void;
  #stopped = false;
  #pending = false;
  #retryAt: number | undefined;
  #lastStart: number | undefined;
  /** Where the periodic interval counts from until the first run. */
  #startedAt = 0;
  /** Aborts the loop's current sleep so it looks at the schedule again. */
  #wake: AbortController | undefined;
  #loop: Promise<void> | undefined;

  /** Checks the intervals; the runner does nothing until {@link BoundedFrequencyRunner.start}. */
  constructor(options: BoundedFrequencyRunnerOptions) {
    const { minIntervalMs, maxIntervalMs } = options;
    if (!(minIntervalMs >= 0) || !(maxIntervalMs > 0) || minIntervalMs > maxIntervalMs) {
      throw new RangeError(
        `Cannot build a BoundedFrequencyRunner with minIntervalMs ${minIntervalMs} and ` +
          `maxIntervalMs ${maxIntervalMs}: expected 0 <= minIntervalMs <= maxIntervalMs and ` +
          `maxIntervalMs > 0`,
      );
    }
    this.#fn = options.fn;
    this.#clock = options.clock;
    this.#minIntervalMs = minIntervalMs;
    this.#maxIntervalMs = maxIntervalMs;
    this.#onError = options.onError ?? ((error) => console.error("runner:", error));
  }

  /**
   * Starts the loop. The first run comes on the first {@link BoundedFrequencyRunner.run}, or
   * after `maxIntervalMs`, as in kube-proxy. Calling it again does nothing.
   */
  start(): void {
    if (this.#loop || this.#stopped) return;
    this.#startedAt = this.#clock.now();
    this.#loop = this.#runLoop();
  }

  /** Asks for a run as soon as `minIntervalMs` allows; requests made before it starts coalesce. */
  run(): void {
    this.#pending = true;
    this.#wake?.abort();
  }

  /**
   * Makes sure a run starts no later than `ms` from now (still no sooner than `minIntervalMs`
   * after the last start). Any run satisfies it; the earliest of several retries wins.
   */
  retryAfter(ms: number): void {
    const at = this.#clock.now() + Math.max(0, ms);
    this.#retryAt = this.#retryAt === undefined ? at : Math.min(this.#retryAt, at);
    this.#wake?.abort();
  }

  /** Stops scheduling runs; resolves once the run in progress, if any, has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.abort();
    await this.#loop;
  }

  async #runLoop(): Promise<void> {
    while (!this.#stopped) {
      const now = this.#clock.now();
      const wait = this.#nextDue(now) - now;
      if (wait <= 0) await this.#runOnce(now);
      else await this.#sleep(wait);
    }
  }

  /** When the next run is due: the earliest reason to run, but never before minInterval. */
  #nextDue(now: number): number {
    let due = (this.#lastStart ?? this.#startedAt) + this.#maxIntervalMs;
    if (this.#pending) due = Math.min(due, now);
    if (this.#retryAt !== undefined) due = Math.min(due, this.#retryAt);
    if (this.#lastStart === undefined) return due;
    return Math.max(due, this.#lastStart + this.#minIntervalMs);
  }

  async #runOnce(now: number): Promise<void> {
    // Cleared before the call: a request or retry made during the run schedules one more.
    this.#lastStart = now;
    this.#pending = false;
    this.#retryAt = undefined;
    try {
      await this.#fn();
    } catch (error) {
      this.#onError(error);
    }
  }

  async #sleep(ms: number): Promise<void> {
    const wake = new AbortController();
    this.#wake = wake;
    try {
      await this.#clock.sleep(ms, wake.signal);
    } catch {
      // Woken early by run(), retryAfter() or stop(): the loop reads the schedule again.
    } finally {
      this.#wake = undefined;
    }
  }
}
