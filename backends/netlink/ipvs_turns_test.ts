import assert from "node:assert/strict";
import { EventLoopTurns } from "./ipvs_turns.ts";

/** A clock the test moves: each call of `work` advances it, each turn costs `turnMs`. */
function fakeClock(turnMs: number) {
  let now = 0;
  return {
    now: () => now,
    work: (ms: number) => {
      now += ms;
    },
    turn: () => {
      now += turnMs;
      return Promise.resolve();
    },
  };
}

Deno.test({
  name: "a cheap turn comes after every minMs of work",
  permissions: "none",
  async fn() {
    const clock = fakeClock(0.5);
    const turns = new EventLoopTurns({ minMs: 10, now: clock.now, turn: clock.turn });
    for (let i = 0; i < 100; i++) {
      clock.work(1);
      await turns.maybe();
    }
    assert.equal(turns.turns, 10, "100 ms of work, a turn every 10 ms");
  },
});

Deno.test({
  name: "an expensive turn spaces the next ones to ten times its cost",
  permissions: "none",
  async fn() {
    const clock = fakeClock(50);
    const turns = new EventLoopTurns({ minMs: 10, now: clock.now, turn: clock.turn });
    for (let i = 0; i < 1000; i++) {
      clock.work(1);
      await turns.maybe();
    }
    // 1,000 ms of work: the first turn after 10 ms, the next 500 ms of work later (ten times its
    // 50 ms), so turns cost about a tenth of the run instead of five times it.
    assert.equal(turns.turns, 2);
  },
});

Deno.test("the real timer turn lets a pending timer run", async () => {
  let fired = false;
  setTimeout(() => fired = true, 0);
  const turns = new EventLoopTurns({ minMs: 0 });
  await turns.maybe();
  assert.ok(fired);
});
