/**
 * Time, injected: the sync loop reads the time and sleeps only through a {@link Clock}, so tests
 * drive it with a {@link FakeClock} and never wait for real time.
 *
 * @module
 */

/** A source of time and of sleeping. */
export interface Clock {
  /** Milliseconds since the Unix epoch (a fake clock may start anywhere). */
  now(): number;
  /**
   * Resolves after `ms` milliseconds; rejects with `signal.reason` as soon as `signal` aborts.
   * A delay of zero or less resolves at once.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The largest delay `setTimeout` honours; longer ones would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The real clock: epoch milliseconds that never go back (the wall time at process start plus
 * the monotonic time since, so a clock set back by NTP or `date -s` cannot hold the sync
 * schedule back by as much), and `setTimeout`.
 *
 * @example
 * ```ts
 * import { realClock } from "./clock.ts";
 * await realClock.sleep(1);
 * ```
 */
export const realClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.min(Math.max(0, ms), MAX_TIMEOUT_MS));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};

interface Sleeper {
  readonly due: number;
  /** Order of creation: sleepers due at the same time wake in the order they slept. */
  readonly seq: number;
  readonly wake: () => void;
}

/** Lets every queued promise reaction run: one macrotask turn drains the microtask queue. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * A clock for tests: time moves only when {@link FakeClock.advance} is called, which wakes the
 * sleepers that fall due in time order, letting each one's continuation run (and sleep again)
 * before the next wakes. Deterministic.
 *
 * @example
 * ```ts
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * let woke = false;
 * clock.sleep(1000).then(() => woke = true);
 * await clock.advance(1000);
 * console.assert(woke && clock.now() === 1000);
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #sleepers: Sleeper[] = [];

  /** Starts the clock at `startMs` (default 0). */
  constructor(startMs = 0) {
    this.#now = startMs;
  }

  /** The fake time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Sleeps until {@link FakeClock.advance} reaches `now() + ms`. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason);
      };
      const sleeper: Sleeper = {
        due: this.#now + ms,
        seq: this.#seq++,
        wake: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      this.#sleepers.push(sleeper);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** How many sleepers are waiting. */
  get pendingSleepers(): number {
    return this.#sleepers.length;
  }

  /**
   * Moves time forward by `ms`, waking due sleepers one at a time in (due, creation) order and
   * letting pending promise reactions run after each. `advance(0)` only lets them run.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + Math.max(0, ms);
    await settle();
    for (let next = this.#nextDue(target); next; next = this.#nextDue(target)) {
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      this.#now = next.due;
      next.wake();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  #nextDue(target: number): Sleeper | undefined {
    let best: Sleeper | undefined;
    for (const s of this.#sleepers) {
      if (s.due > target) continue;
      if (!best || s.due < best.due || (s.due === best.due && s.seq < best.seq)) best = s;
    }
    return best;
  }
}
