/**
 * client-go's request limiter: a token bucket holding `burst` tokens, refilled at `qps` per
 * second; each request takes one, waiting when the bucket is empty.
 *
 * @module
 */

/**
 * The bucket.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./rate_limiter.ts";
 * const bucket = new TokenBucket(5, 10);
 * await bucket.take(); // at once: the bucket starts full
 * ```
 */
export class TokenBucket {
  #tokens: number;
  #last: number;
  /** Callers waiting, so that they are served in order. */
  #queue: Promise<void> = Promise.resolve();

  /** `qps` <= 0 means no limit (client-go's -1). */
  constructor(
    readonly qps: number,
    readonly burst: number,
    readonly now: () => number = () => performance.now(),
  ) {
    this.#tokens = Math.max(1, burst);
    this.#last = now();
  }

  /** Resolves when a token is taken; rejects if `signal` aborts while waiting. */
  take(signal?: AbortSignal): Promise<void> {
    if (this.qps <= 0) return Promise.resolve();
    const turn = this.#queue.then(() => this.#takeOne(signal));
    this.#queue = turn.catch(() => {});
    return turn;
  }

  async #takeOne(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      this.#refill();
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      const waitMs = ((1 - this.#tokens) / this.qps) * 1000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          signal?.removeEventListener("abort", done);
          clearTimeout(timer);
          resolve();
        }
        signal?.addEventListener("abort", done, { once: true });
      });
    }
  }

  #refill(): void {
    const now = this.now();
    const capacity = Math.max(1, this.burst);
    this.#tokens = Math.min(capacity, this.#tokens + ((now - this.#last) / 1000) * this.qps);
    this.#last = now;
  }
}
