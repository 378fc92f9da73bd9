/**
 * Which module logged a line, for klog's `file:line`: one V8 stack frame, taken only for
 * lines that are written (about 3 µs each; a sync writes one line).
 *
 * @module
 */

import type { Caller } from "./entry.ts";

/** klog's name for a caller it cannot find. */
export const UNKNOWN_CALLER: Caller = { dir: "???", file: "???", line: 1 };

/** `at fn (file:///work/src/sync/sync_loop.ts:143:7)` or `at file:///.../x.ts:3:1`. */
const FRAME = /(?:\(|at )(?:[a-z]+:\/\/)?(?:.*\/)?([^/\s()]+)\/([^/\s()]+):(\d+):\d+\)?\s*$/;

/**
 * The caller of `logFunction`: the frame just above it on the stack.
 *
 * @example
 * ```ts
 * function log(): void {
 *   console.log(callerOf(log)); // { dir: "src", file: "app.ts", line: 7 } for a call there
 * }
 * ```
 */
// deno-lint-ignore ban-types
export function callerOf(logFunction: Function): Caller {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  try {
    Error.captureStackTrace(holder, logFunction);
  } finally {
    Error.stackTraceLimit = limit;
  }
  const frame = holder.stack?.split("\n")[1] ?? "";
  const match = FRAME.exec(frame);
  if (match === null) return UNKNOWN_CALLER;
  return { dir: match[1], file: match[2], line: Number(match[3]) };
}
