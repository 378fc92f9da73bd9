import assert from "node:assert/strict";
import { createLogger, type LoggerOptions, verbosityFor } from "./logger.ts";
import { callerOf } from "./caller.ts";

function test(name: string, fn: () => void): void {
  Deno.test({ name, permissions: "none", fn });
}

const CLOCK = { now: () => Date.UTC(2026, 11, 1, 21, 3, 50, 123) + 0.456, pid: 12345 };

function capture(options: Partial<LoggerOptions> = {}) {
  const lines: string[] = [];
  const log = createLogger({
    format: "text",
    clock: CLOCK,
    ...options,
    write: (l) => lines.push(l),
  });
  return { log, lines };
}

test("a plain line gets klog's header with this file and line, its text unchanged", () => {
  const { log, lines } = capture();
  log.line("sync: 5.9 ms, 164 operations (ipset.add 59), 0 failures, 8 writes");
  assert.deepEqual(lines, [
    "I1201 21:03:50.123456   12345 logger_test.ts:24] " +
    "sync: 5.9 ms, 164 operations (ipset.add 59), 0 failures, 8 writes",
  ]);
});

test("warning: and error: prefixes become the W and E severities", () => {
  const { log, lines } = capture();
  log.line("warning: x.yaml:3:1: unknown field 'ipvs.sheduler' is ignored");
  log.line("error: ipset: refused");
  assert.match(
    lines[0],
    /^W1201 21:03:50\.123456 {3}12345 logger_test\.ts:\d+\] x\.yaml:3:1: unknown/,
  );
  assert.match(lines[1], /^E1201 [^\]]+\] ipset: refused$/);
});

test("structured entries quote the message and write key=value pairs", () => {
  const { log, lines } = capture();
  log.info("Using ipvs Proxier", { scheduler: "rr", syncPeriod: 30, strict: false });
  assert.match(lines[0], /\] "Using ipvs Proxier" scheduler="rr" syncPeriod=30 strict=false$/);
});

test("V(n) entries are written only up to --v", () => {
  const { log, lines } = capture({ verbosity: 2 });
  log.v(2).info("two");
  log.v(3).info("three");
  assert.equal(log.v(3).enabled, false);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^I.*\] "two"$/);
});

test("--vmodule raises the level for matching files only", () => {
  const { log, lines } = capture({
    verbosity: 0,
    vmodule: [{ filePattern: "logger_*", verbosity: 4 }],
  });
  log.v(4).info("detail");
  assert.equal(lines.length, 1);
  const caller = { dir: "sync", file: "sync_loop.ts", line: 1 };
  assert.equal(verbosityFor(caller, 1, [{ filePattern: "sync_*", verbosity: 5 }]), 5);
  assert.equal(verbosityFor(caller, 1, [{ filePattern: "sync/sync_loop", verbosity: 3 }]), 3);
  assert.equal(verbosityFor(caller, 1, [{ filePattern: "main", verbosity: 3 }]), 1);
});

test("--logging-format=json writes component-base's JSON lines", () => {
  const { log, lines } = capture({ format: "json", verbosity: 2 });
  log.line("Using ipvs Proxier.");
  log.line("warning: something odd");
  log.line("error: something broke");
  log.v(2).info("Sync operations", { "ipset.add": 3 });
  const parsed = lines.map((l) => JSON.parse(l));
  assert.deepEqual(parsed[0], {
    ts: 1796159030123.456,
    caller: "log/logger_test.ts:" + parsed[0].caller.split(":")[1],
    msg: "Using ipvs Proxier.",
    v: 0,
  });
  assert.deepEqual(Object.keys(parsed[0]), ["ts", "caller", "msg", "v"]);
  assert.equal(parsed[1].v, 0);
  assert.equal("v" in parsed[2], false);
  assert.deepEqual([parsed[3].v, parsed[3]["ipset.add"]], [2, 3]);
});

test("the bare format writes today's lines: prefixes kept, no header", () => {
  const { log, lines } = capture({ format: "bare", verbosity: 1 });
  log.line("Using ipvs Proxier.");
  log.line("warning: w");
  log.warning("Flag is ignored", { flag: "--ipvs-scheduler" });
  log.v(1).info("detail", { n: 1 });
  log.v(2).info("dropped");
  assert.deepEqual(lines, [
    "Using ipvs Proxier.",
    "warning: w",
    'warning: Flag is ignored flag="--ipvs-scheduler"',
    "detail n=1",
  ]);
});

test("callerOf() names the calling module and line, cheaply", () => {
  function where() {
    return callerOf(where);
  }
  const caller = where();
  assert.equal(caller.file, "logger_test.ts");
  assert.equal(caller.dir, "log");
  const started = performance.now();
  for (let i = 0; i < 1000; i++) where();
  const perCall = (performance.now() - started) / 1000;
  assert.ok(perCall < 0.2, `${perCall} ms per caller lookup`);
});
