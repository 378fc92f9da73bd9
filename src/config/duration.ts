/**
 * Go duration strings (`time.ParseDuration`), as kube-proxy's config file and flags use them.
 *
 * @module
 */

/** Nanoseconds per unit; Go accepts both the micro sign (U+00B5) and Greek mu (U+03BC). */
const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  "\u00b5s": 1e3,
  "\u03bcs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go stores a duration in an int64 of nanoseconds; anything larger overflows there. */
const MAX_NS = 9223372036854775807;

/** One `<number><unit>` segment: digits with an optional fraction, then a unit. */
const SEGMENT = /^(\d*)(?:\.(\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/;

/**
 * Parses a Go duration (`30s`, `1m30s`, `500ms`, `1h`, `2.5s`, `0`) into milliseconds.
 *
 * Sub-millisecond parts (`us`, `µs`, `ns`) are kept until the end and the total is rounded to
 * the nearest millisecond, so `1500us` is 2 ms and `100us` is 0 ms. Negative durations are
 * rejected because no kube-proxy setting accepts one. Like Go, a bare number needs a unit,
 * except `0`.
 *
 * @example
 * ```ts
 * parseGoDuration("1m30s"); // 90000
 * ```
 *
 * @throws {Error} a plain Error describing the problem; callers wrap it with the field name.
 */
export function parseGoDuration(text: string): number {
  let rest = text.startsWith("+") ? text.slice(1) : text;
  if (rest.startsWith("-")) {
    throw new Error(`a negative duration is not allowed, got "${text}"`);
  }
  if (rest === "0") return 0;
  if (rest === "") throw new Error(`expected a duration like "30s", got "${text}"`);
  let totalNs = 0;
  while (rest !== "") {
    const match = SEGMENT.exec(rest);
    const whole = match?.[1] ?? "";
    const fraction = match?.[2] ?? "";
    if (match === null || (whole === "" && fraction === "")) {
      throw new Error(unitHint(text));
    }
    totalNs += segmentNs(whole, fraction, UNIT_NS[match[3]]);
    rest = rest.slice(match[0].length);
  }
  if (totalNs > MAX_NS) {
    throw new Error(`duration "${text}" is too long (the limit is about 2562047h)`);
  }
  return Math.round(totalNs / 1e6);
}

/** The nanoseconds of one segment, e.g. whole "2", fraction "5", unit 1e9 for `2.5s`. */
function segmentNs(whole: string, fraction: string, unitNs: number): number {
  const wholeNs = whole === "" ? 0 : Number(whole) * unitNs;
  const fractionNs = fraction === "" ? 0 : Number(`0.${fraction}`) * unitNs;
  return wholeNs + fractionNs;
}

/** The error text for a duration that does not parse; a bare number gets a hint about units. */
function unitHint(text: string): string {
  if (/^\d+(\.\d*)?$/.test(text.replace(/^\+/, ""))) {
    return `expected a duration with a unit like "${text}s" or "${text}ms", got "${text}"`;
  }
  return `expected a duration like "30s", "1m30s" or "500ms", got "${text}"`;
}

/**
 * Writes milliseconds as Go's `time.Duration.String()` does: `0s`, `500ms`, `30s`, `1m30s`,
 * `15m0s`, `24h0m0s`, `1.5s`.
 *
 * @example
 * ```ts
 * formatGoDuration(90_000); // "1m30s"
 * ```
 */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
