/**
 * When a long run of synchronous netlink calls (a read dumps once per virtual server) gives the
 * event loop a turn, so the health server keeps answering. Only a timer lets Deno poll I/O
 * (`setImmediate` and `MessageChannel` turns do not), and a timer turn costs about 2 ms on a
 * loaded host and tens of ms under the VM's TCG: a fixed 10 ms interval made a read of 1,000
 * services 8 times slower there (5.7 s instead of 0.7 s). So a turn comes after at least
 * `minMs` of work, or after ten times what the last turn cost: the loop waits at most about
 * ten turns' time, and turns cost at most about a tenth of the run.
 *
 * @module
 */

/** What {@linkcode EventLoopTurns} needs; the defaults are the real clock and a timer turn. */
export interface TurnOptions {
  /**
   * Work between two turns at least, in milliseconds.
   * @default {10}
   */
  readonly minMs?: number;
  /**
   * The clock, in milliseconds.
   * @default {performance.now}
   */
  readonly now?: () => number;
  /**
   * One turn of the event loop.
   * @default {a setTimeout(0)}
   */
  readonly turn?: () => Promise<void>;
}

const timerTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** See the module docs: call {@linkcode EventLoopTurns.maybe} between synchronous calls. */
export class EventLoopTurns {
  readonly #minMs: number;
  readonly #now: () => number;
  readonly #turn: () => Promise<void>;
  #budgetMs: number;
  #since: number;
  /** How many turns were given so far. */
  turns = 0;

  /** Starts counting work now. */
  constructor(options: TurnOptions = {}) {
    this.#minMs = options.minMs ?? 10;
    this.#now = options.now ?? (() => performance.now());
    this.#turn = options.turn ?? timerTurn;
    this.#budgetMs = this.#minMs;
    this.#since = this.#now();
  }

  /** Gives the event loop a turn if enough work was done since the last one. */
  async maybe(): Promise<void> {
    if (this.#now() - this.#since < this.#budgetMs) return;
    const start = this.#now();
    await this.#turn();
    const end = this.#now();
    this.turns++;
    this.#budgetMs = Math.max(this.#minMs, 10 * (end - start));
    this.#since = end;
  }
}
