/**
 * The logger: severity from the call, verbosity filtering (`--v`, `--vmodule`), and one of
 * three formats (klog text, JSON, bare lines). {@link Logger.line} takes today's stderr lines
 * (`warning: ...`, `error: ...`) so call sites that log plain text need not change.
 *
 * @module
 */

import { callerOf, UNKNOWN_CALLER } from "./caller.ts";
import {
  type Caller,
  formatBare,
  formatJson,
  formatText,
  type LogClock,
  type LogEntry,
  type LogFields,
  type Severity,
} from "./entry.ts";

/** How lines are written: klog's text, component-base's JSON, or bare (no header). */
export type LogFormat = "text" | "json" | "bare";

/** One `--vmodule` item: files matching `filePattern` (a glob on the name) log up to `verbosity`. */
export interface VModuleItem {
  /** A glob (`*`, `?`) on the file name without `.ts`, e.g. `sync_*`; with a `/`, on the path. */
  readonly filePattern: string;
  /** The V level for those files. */
  readonly verbosity: number;
}

/** What {@link createLogger} needs. */
export interface LoggerOptions {
  /** The format. */
  readonly format: LogFormat;
  /** `--v`: V(n) entries with n above it are dropped. @default 0 */
  readonly verbosity?: number;
  /** `--vmodule`: per-file verbosity, first match wins. @default [] */
  readonly vmodule?: readonly VModuleItem[];
  /** Receives each formatted line. */
  readonly write: (line: string) => void;
  /** Clock and pid of the header. @default the real clock and `Deno.pid` (read lazily) */
  readonly clock?: LogClock;
}

/** Entries at one V level: dropped unless that level is enabled. */
export interface VerboseLogger {
  /** Whether entries at this level are written (for the caller's file when vmodule is set). */
  readonly enabled: boolean;
  /** A structured info entry at this level: `"message" key="value"`. */
  info(message: string, fields?: LogFields): void;
  /** A printf-style info line at this level (`klog.V(n).Infof`): the text as is, not quoted. */
  line(text: string): void;
}

/** The logger every part of the CLI writes through. */
export interface Logger {
  /** A structured info entry (V(0)): `I... "message" key="value"`. */
  info(message: string, fields?: LogFields): void;
  /** A structured warning. */
  warning(message: string, fields?: LogFields): void;
  /** A structured error. */
  error(message: string, fields?: LogFields): void;
  /** Entries at V(level), for detail lines. */
  v(level: number): VerboseLogger;
  /**
   * One of today's plain lines: `warning: x` becomes a W entry `x`, `error: x` an E entry,
   * anything else an I entry at V(0), printf-style (not quoted). Pass it as a `log` callback.
   */
  line(text: string): void;
}

/** A glob on a file name, as klog's vmodule matches it. */
function globMatches(pattern: string, text: string): boolean {
  const source = pattern.replaceAll(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")
    .replaceAll("?", ".");
  return new RegExp(`^${source}$`).test(text);
}

/** The V level that applies to `caller`: the first matching vmodule item's, else `--v`. */
export function verbosityFor(
  caller: Caller,
  verbosity: number,
  vmodule: readonly VModuleItem[],
): number {
  const name = caller.file.replace(/\.[jt]sx?$/, "");
  for (const item of vmodule) {
    const target = item.filePattern.includes("/") ? `${caller.dir}/${name}` : name;
    if (globMatches(item.filePattern, target)) return item.verbosity;
  }
  return verbosity;
}

function realClock(): LogClock {
  return { now: () => performance.timeOrigin + performance.now(), pid: Deno.pid };
}

/** Splits a plain line into its severity and message by the `warning: `/`error: ` prefix. */
export function classifyLine(text: string): { severity: Severity; message: string } {
  if (text.startsWith("warning: ")) return { severity: "warning", message: text.slice(9) };
  if (text.startsWith("error: ")) return { severity: "error", message: text.slice(7) };
  return { severity: "info", message: text };
}

/**
 * Makes a logger.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const log = createLogger({
 *   format: "text",
 *   verbosity: 2,
 *   write: (line) => lines.push(line),
 *   clock: { now: () => Date.UTC(2026, 11, 1, 21, 3, 50), pid: 42 },
 * });
 * log.line("warning: ipvs.sheduler is unknown");
 * log.v(2).info("Syncing", { operations: 3 });
 * log.v(4).info("dropped at --v=2");
 * // lines: ['W1201 21:03:50.000000      42 x.ts:9] ipvs.sheduler is unknown',
 * //         'I1201 21:03:50.000000      42 x.ts:10] "Syncing" operations=3']
 * ```
 */
export function createLogger(options: LoggerOptions): Logger {
  const verbosity = options.verbosity ?? 0;
  const vmodule = options.vmodule ?? [];
  let clock = options.clock;
  const format = (entry: LogEntry): string => {
    if (options.format === "bare") return formatBare(entry);
    clock ??= realClock();
    return options.format === "json" ? formatJson(entry, clock) : formatText(entry, clock);
  };
  // deno-lint-ignore ban-types
  const emit = (entry: Omit<LogEntry, "caller">, from: Function, caller?: Caller) => {
    const where = caller ?? (options.format === "bare" ? UNKNOWN_CALLER : callerOf(from));
    options.write(format({ ...entry, caller: where }));
  };
  const structured = (severity: Severity) => {
    const log = (message: string, fields: LogFields = {}) =>
      emit({ severity, verbosity: 0, message, structured: true, fields }, log);
    return log;
  };
  const v = (level: number): VerboseLogger => {
    const caller = vmodule.length === 0 ? undefined : callerOf(v);
    const limit = caller === undefined ? verbosity : verbosityFor(caller, verbosity, vmodule);
    const enabled = level <= limit;
    const info = (message: string, fields: LogFields = {}) => {
      if (!enabled) return;
      emit({ severity: "info", verbosity: level, message, structured: true, fields }, info, caller);
    };
    const line = (text: string) => {
      if (!enabled) return;
      const entry = { verbosity: level, message: text, structured: false, fields: {} };
      emit({ severity: "info", ...entry }, line, caller);
    };
    return { enabled, info, line };
  };
  const line = (text: string) => {
    const { severity, message } = classifyLine(text);
    emit({ severity, verbosity: 0, message, structured: false, fields: {} }, line);
  };
  return {
    info: structured("info"),
    warning: structured("warning"),
    error: structured("error"),
    v,
    line,
  };
}
