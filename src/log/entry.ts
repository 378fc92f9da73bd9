/**
 * One log entry and the three ways it is written: klog's text format, component-base's JSON
 * format, and bare lines (today's stderr lines, for callers that add no header).
 *
 * @module
 */

/** klog's severities that this program uses (no Fatal: errors end the program by returning). */
export type Severity = "info" | "warning" | "error";

/** Key/value pairs of a structured entry (`klog.InfoS`), in the order given. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Where an entry was logged from: the module's directory and file name, and the line. */
export interface Caller {
  /** The directory's last component, e.g. `sync` (JSON's caller is `sync/sync_loop.ts:143`). */
  readonly dir: string;
  /** The file name, e.g. `sync_loop.ts` (klog's text header shows `sync_loop.ts:143`). */
  readonly file: string;
  /** The 1-based line. */
  readonly line: number;
}

/** One entry, severity and verbosity already decided. */
export interface LogEntry {
  /** `I`, `W` or `E` in the text header. */
  readonly severity: Severity;
  /** The V level it was logged at; 0 for warnings and errors. */
  readonly verbosity: number;
  /** The message: quoted when structured (`klog.InfoS`), as is otherwise (`klog.Infof`). */
  readonly message: string;
  /** True for `InfoS`-style entries: `"message" key="value"`; false for printf-style lines. */
  readonly structured: boolean;
  /** Key/value pairs (structured entries only). */
  readonly fields: LogFields;
  /** Where it was logged from. */
  readonly caller: Caller;
}

/** What a header needs besides the entry, injectable so tests are exact. */
export interface LogClock {
  /** Milliseconds since the epoch, with a fraction for microseconds. */
  readonly now: () => number;
  /** The process id in klog's header. */
  readonly pid: number;
}

const SEVERITY_LETTER: Readonly<Record<Severity, string>> = { info: "I", warning: "W", error: "E" };

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}

/**
 * klog's header: `I1201 21:03:50.123456   12345 sync_loop.ts:143] `. The time is UTC (what a
 * node's kube-proxy container shows; klog itself uses the local zone).
 */
export function klogHeader(entry: LogEntry, clock: LogClock): string {
  const ms = clock.now();
  const date = new Date(Math.floor(ms));
  const micros = Math.floor((ms - Math.floor(ms / 1000) * 1000) * 1000);
  const day = `${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)}`;
  const time = `${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:` +
    `${pad(date.getUTCSeconds(), 2)}.${pad(micros, 6)}`;
  const pid = String(clock.pid).padStart(7, " ");
  return `${SEVERITY_LETTER[entry.severity]}${day} ${time} ${pid} ` +
    `${entry.caller.file}:${entry.caller.line}] `;
}

/** A value as klog's text format writes it after `key=`: strings quoted, numbers bare. */
function textValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  if (value === null || value === undefined) return "<nil>";
  if (typeof value === "object") return JSON.stringify(value) ?? String(value);
  return String(value);
}

/** The part after the header: `"message" key="value"` or the printf-style text. */
function textBody(entry: LogEntry): string {
  if (!entry.structured) return entry.message;
  const pairs = Object.entries(entry.fields).map(([key, value]) => ` ${key}=${textValue(value)}`);
  return `${JSON.stringify(entry.message)}${pairs.join("")}`;
}

/**
 * klog's text format, one line.
 *
 * @example
 * ```ts
 * const line = formatText(
 *   {
 *     severity: "info", verbosity: 0, message: "Using ipvs Proxier.", structured: false,
 *     fields: {}, caller: { dir: "cli", file: "main.ts", line: 121 },
 *   },
 *   { now: () => Date.UTC(2026, 11, 1, 21, 3, 50, 123.456), pid: 12345 },
 * );
 * // 'I1201 21:03:50.123456   12345 main.ts:121] Using ipvs Proxier.'
 * ```
 */
export function formatText(entry: LogEntry, clock: LogClock): string {
  return klogHeader(entry, clock) + textBody(entry);
}

/** A value as JSON: errors as their message, undefined as null. */
function jsonValue(value: unknown): unknown {
  if (value instanceof Error) return value.message;
  return value === undefined ? null : value;
}

/**
 * component-base's JSON format (zap through zapr): `ts` in epoch milliseconds, `caller` as
 * `dir/file:line`, `msg`, then `v` for info entries (warnings are info entries there too, as
 * klog hands them to logr), then the fields. Errors carry no `v`.
 *
 * @example
 * ```ts
 * formatJson({
 *   severity: "info", verbosity: 2, message: "Syncing", structured: true,
 *   fields: { operations: 3 }, caller: { dir: "cli", file: "main.ts", line: 9 },
 * }, { now: () => 1796159030123.456, pid: 1 });
 * // '{"ts":1796159030123.456,"caller":"cli/main.ts:9","msg":"Syncing","v":2,"operations":3}'
 * ```
 */
export function formatJson(entry: LogEntry, clock: LogClock): string {
  const record: Record<string, unknown> = {
    ts: clock.now(),
    caller: `${entry.caller.dir}/${entry.caller.file}:${entry.caller.line}`,
    msg: entry.message,
  };
  if (entry.severity !== "error") record.v = entry.verbosity;
  for (const [key, value] of Object.entries(entry.fields)) {
    if (!(key in record)) record[key] = jsonValue(value);
  }
  return JSON.stringify(record);
}

/**
 * Today's bare stderr lines: `warning: ` and `error: ` prefixes, no header; structured
 * fields follow as ` key="value"`. For callers (tests, harnesses) that read lines as before.
 */
export function formatBare(entry: LogEntry): string {
  const prefix = entry.severity === "info" ? "" : `${entry.severity}: `;
  if (!entry.structured) return prefix + entry.message;
  const pairs = Object.entries(entry.fields).map(([key, value]) => ` ${key}=${textValue(value)}`);
  return `${prefix}${entry.message}${pairs.join("")}`;
}
