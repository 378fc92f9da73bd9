/**
 * The one guard every renderer passes interpolated values through, so that no value can
 * end a line, start a comment, or add an argument to a restore tool's input.
 *
 * @module
 */

/** Thrown when a value cannot be rendered safely into a tool's input. */
export class RenderError extends Error {
  /** What the value was meant to be, e.g. `ipset entry`. */
  readonly what: string;
  /** The rejected value. */
  readonly value: string;

  /** Builds the error; `reason` completes "it ...". */
  constructor(what: string, value: string, reason: string, options?: ErrorOptions) {
    super(`Cannot render ${what} ${JSON.stringify(value)}: it ${reason}`, options);
    this.name = "RenderError";
    this.what = what;
    this.value = value;
  }
}

// Printable ASCII except space, quotes, backslash and '#': what a restore-tool token may hold.
const SAFE_TOKEN = /^[\x21\x24-\x26\x28-\x5b\x5d-\x5f\x61-\x7e]+$/;
// Inside a double-quoted iptables argument: printable ASCII except quotes and backslash, and
// `\'`, which is how iptables-save prints a single quote in a comment (kube-proxy's SCTP
// set comments have them).
const SAFE_QUOTED = /^"(?:[\x20\x21\x23-\x26\x28-\x5b\x5d-\x5f\x61-\x7e]|\\')*"$/;

function reasonFor(value: string): string {
  if (value === "") return "is empty";
  if (/\s/.test(value)) return "contains whitespace";
  // deno-lint-ignore no-control-regex -- finding control characters is the point
  if (/[\x00-\x1f\x7f]/.test(value)) return "contains a control character";
  // deno-lint-ignore no-control-regex -- the range is "all of ASCII", not a typo
  if (/[^\x00-\x7f]/.test(value)) return "contains a non-ASCII character";
  if (/["'`]/.test(value)) return "contains a quote";
  if (value.includes("#")) return "contains '#'";
  return "contains a backslash";
}

/**
 * Returns `value` if it is one safe token: non-empty printable ASCII without whitespace,
 * quotes, backslash or `#`; throws a {@linkcode RenderError} otherwise.
 *
 * @example
 * ```ts
 * safeToken("KUBE-CLUSTER-IP", "ipset name"); // "KUBE-CLUSTER-IP"
 * ```
 */
export function safeToken(value: string, what: string): string {
  if (typeof value === "string" && SAFE_TOKEN.test(value)) return value;
  throw new RenderError(what, String(value), reasonFor(String(value)));
}

/** Renders an integer within `[min, max]` as a safe token; throws a {@linkcode RenderError}. */
export function safeInteger(value: number, min: number, max: number, what: string): string {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RenderError(what, String(value), `is not an integer from ${min} to ${max}`);
  }
  return safeToken(String(value), what);
}

/**
 * Returns an iptables rule (`iptables-save` form, without `-A CHAIN`) if every word is a
 * safe token or a double-quoted string of printable ASCII (the way `iptables-save` prints
 * `--comment "kubernetes service portals"`), single-space separated.
 */
export function safeRule(rule: string, what: string): string {
  const words = rule.match(/"[^"]*"|[^ "]+|"/g) ?? [];
  if (words.length === 0 || words.join(" ") !== rule) {
    throw new RenderError(what, rule, "is not single-space separated words");
  }
  for (const word of words) {
    if (word.startsWith('"')) {
      if (!SAFE_QUOTED.test(word)) {
        throw new RenderError(what, rule, `has an unsafe quoted argument ${word}`);
      }
    } else {
      try {
        safeToken(word, what);
      } catch (cause) {
        throw new RenderError(what, rule, `has an unsafe word ${JSON.stringify(word)}`, { cause });
      }
    }
  }
  return rule;
}
