import assert from "node:assert/strict";
import { FakeClock, realClock } from "./clock.ts";

Deno.test({
  name: "FakeClock.advance() wakes sleepers in time order, each at its own time",
  permissions: "none",
  async fn() {
    const clock = new FakeClock(100);
    const woke: string[] = [];
    clock.sleep(30).then(() => woke.push(`b@${clock.now()}`));
    clock.sleep(10).then(() => woke.push(`a@${clock.now()}`));
    clock.sleep(30).then(() => woke.push(`c@${clock.now()}`));
    clock.sleep(50).then(() => woke.push(`late@${clock.now()}`));
    await clock.advance(40);
    assert.deepEqual(woke, ["a@110", "b@130", "c@130"]);
    assert.equal(clock.now(), 140);
    assert.equal(clock.pendingSleepers, 1);
    await clock.advance(10);
    assert.deepEqual(woke.at(-1), "late@150");
  },
});

Deno.test({
  name: "FakeClock.advance() wakes a sleeper that a woken one started within the same advance",
  permissions: "none",
  async fn() {
    const clock = new FakeClock();
    const ticks: number[] = [];
    (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(10);
        ticks.push(clock.now());
      }
    })();
    await clock.advance(25);
    assert.deepEqual(ticks, [10, 20]);
    await clock.advance(5);
    assert.deepEqual(ticks, [10, 20, 30]);
  },
});

Deno.test({
  name: "FakeClock.sleep() rejects with the abort reason and forgets the sleeper",
  permissions: "none",
  async fn() {
    const clock = new FakeClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(1000, controller.signal);
    controller.abort(new Error("woken"));
    await assert.rejects(sleeping, /woken/);
    assert.equal(clock.pendingSleepers, 0);
  },
});

Deno.test({
  name: "realClock.sleep() rejects at once when aborted",
  permissions: "none",
  async fn() {
    const controller = new AbortController();
    const sleeping = realClock.sleep(60_000, controller.signal);
    controller.abort(new Error("stop"));
    await assert.rejects(sleeping, /stop/);
  },
});

Deno.test({
  name: "realClock.now() does not go back when the wall clock is set back",
  permissions: "none",
  fn() {
    const wallClock = Date.now;
    const before = realClock.now();
    try {
      Date.now = () => wallClock() - 3_600_000; // an NTP step or `date -s` an hour back
      assert.ok(realClock.now() >= before, "the sync schedule would wait an extra hour");
    } finally {
      Date.now = wallClock;
    }
    assert.ok(Math.abs(realClock.now() - Date.now()) < 60_000, "still epoch milliseconds");
  },
});
