/**
 * The error every configuration problem becomes, and where a raw value came from.
 *
 * @module
 */

/**
 * Where one raw value came from: a field of the config file, a flag or an environment variable.
 * Errors and warnings are worded from it.
 */
export interface Origin {
  /** The config file, or "" when the value came from a flag or the environment. */
  readonly file: string;
  /** `ipvs.syncPeriod` in a file, `--ipvs-sync-period` for a flag, `KUBE_PROXY_MODE` for env. */
  readonly field: string;
  /** 1-based line of the value in the file, when known. */
  readonly line?: number;
  /** 1-based column of the value in the file, when known. */
  readonly column?: number;
}

/** Options of a {@link ConfigError}: the origin of the bad value, the value, and the cause. */
export interface ConfigErrorOptions extends Origin {
  /** The offending value as it was written (strings raw, anything else as JSON). */
  readonly value: string;
  /** The lower-level error, e.g. the YAML parser's. */
  readonly cause?: unknown;
}

/**
 * A configuration that cannot be used: bad YAML, a bad value, an unsupported mode, an unreadable
 * file. The CLI reports the message and exits with code 2.
 *
 * @example
 * ```ts
 * throw new ConfigError(
 *   `x.yaml: cannot parse 'ipvs.syncPeriod': expected a duration like "30s", got "soon"`,
 *   { file: "x.yaml", field: "ipvs.syncPeriod", value: "soon" },
 * );
 * ```
 */
export class ConfigError extends Error {
  /** The config file, or "" when the value came from a flag or the environment. */
  readonly file: string;
  /** The field path or flag name, e.g. `ipvs.syncPeriod` or `--ipvs-sync-period`. */
  readonly field: string;
  /** The offending value as text. */
  readonly value: string;
  /** 1-based line in the file, when known. */
  readonly line?: number;
  /** 1-based column in the file, when known. */
  readonly column?: number;

  /** Makes an error; `message` should already name the file, field and value. */
  constructor(message: string, options: ConfigErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ConfigError";
    this.file = options.file;
    this.field = options.field;
    this.value = options.value;
    this.line = options.line;
    this.column = options.column;
  }
}

/**
 * Where a value came from, as a message prefix: `x.yaml:12:5`, `x.yaml`, `command line`
 * or `environment`.
 */
export function describeOrigin(origin: Origin): string {
  if (origin.file === "") {
    if (origin.field.startsWith("--")) return "command line";
    return origin.field === "" ? "configuration" : "environment";
  }
  if (origin.line === undefined) return origin.file;
  return `${origin.file}:${origin.line}:${origin.column ?? 1}`;
}

/** A value as it appears in messages: strings in double quotes, anything else as JSON. */
export function showValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === undefined) return "nothing";
  return JSON.stringify(value) ?? String(value);
}

/** The raw text of a value for {@link ConfigError.value}: strings as is, others as JSON. */
export function rawValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "";
  return JSON.stringify(value) ?? String(value);
}

/**
 * The common "cannot parse" error:
 * `x.yaml:3:16: cannot parse 'ipvs.syncPeriod': expected a duration like "30s", got "soon"`.
 * `problem` is the part after the colon and should say what was expected.
 */
export function invalidValue(
  origin: Origin,
  value: unknown,
  problem: string,
  cause?: unknown,
): ConfigError {
  const what = origin.field === "" ? "the document" : `'${origin.field}'`;
  const message = `${describeOrigin(origin)}: cannot parse ${what}: ${problem}`;
  return new ConfigError(message, { ...origin, value: rawValue(value), cause });
}

/**
 * The error for a value that parses but is not allowed here:
 * `x.yaml:5:25: invalid 'featureGates.SupportIPVSProxyMode': ...`.
 */
export function rejectedValue(origin: Origin, value: unknown, problem: string): ConfigError {
  const what = origin.field === "" ? "document" : `'${origin.field}'`;
  const message = `${describeOrigin(origin)}: invalid ${what}: ${problem}`;
  return new ConfigError(message, { ...origin, value: rawValue(value) });
}
