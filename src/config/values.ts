/**
 * Typed readers for raw configuration values. Each takes a raw value (from YAML, a flag or the
 * environment) and its origin, and returns the checked, canonical value or throws a ConfigError
 * naming the origin, the field and the value.
 *
 * @module
 */

import { canonicalCidr, canonicalIp } from "../net/ip.ts";
import { type Scheduler, SCHEDULERS } from "./types.ts";
import { parseGoDuration } from "./duration.ts";
import { invalidValue, type Origin, rejectedValue, showValue } from "./errors.ts";

/** Reads a string; YAML numbers or booleans where a string is expected are errors. */
export function readString(raw: unknown, origin: Origin): string {
  if (typeof raw !== "string") {
    throw invalidValue(origin, raw, `expected a string, got ${showValue(raw)}`);
  }
  return raw;
}

/** Reads a boolean; `"yes"` or `"true"` in quotes are errors as they are for kube-proxy. */
export function readBoolean(raw: unknown, origin: Origin): boolean {
  if (typeof raw !== "boolean") {
    throw invalidValue(origin, raw, `expected true or false, got ${showValue(raw)}`);
  }
  return raw;
}

/** Which durations a field accepts. */
export type DurationRule = "positive" | "non-negative";

/** Reads a Go duration string into milliseconds; `rule` "positive" also rejects 0. */
export function readDurationMs(raw: unknown, origin: Origin, rule: DurationRule): number {
  if (typeof raw !== "string") {
    const hint = typeof raw === "number" ? ` (write it with a unit, e.g. "${raw}s")` : "";
    throw invalidValue(origin, raw, `expected a duration like "30s", got ${showValue(raw)}${hint}`);
  }
  let ms: number;
  try {
    ms = parseGoDuration(raw);
  } catch (error) {
    throw invalidValue(origin, raw, (error as Error).message, error);
  }
  if (rule === "positive" && ms <= 0) {
    throw rejectedValue(origin, raw, `must be greater than 0, like "30s", got ${showValue(raw)}`);
  }
  return ms;
}

/** Reads `iptables.masqueradeBit`: an integer 0..31 (a YAML number, or a flag's text). */
export function readMasqueradeBit(raw: unknown, origin: Origin): number {
  const isFlagText = typeof raw === "string" && origin.field.startsWith("--");
  const bit = isFlagText && /^[+-]?\d+$/.test(raw.trim()) ? Number(raw) : raw;
  if (typeof bit !== "number" || !Number.isInteger(bit) || bit < 0 || bit > 31) {
    throw invalidValue(origin, raw, `expected an integer from 0 to 31, got ${showValue(raw)}`);
  }
  return bit;
}

/** Reads an IPVS scheduler; "" means `rr`, as in kube-proxy. */
export function readScheduler(raw: unknown, origin: Origin): Scheduler {
  const name = readString(raw, origin).trim();
  if (name === "") return "rr";
  const known = SCHEDULERS as readonly string[];
  if (!known.includes(name)) {
    throw invalidValue(
      origin,
      raw,
      `unknown IPVS scheduler ${showValue(raw)}; use one of ${SCHEDULERS.join(" ")}`,
    );
  }
  return name as Scheduler;
}

/** Reads a YAML list of strings; `null` is an empty list. */
export function readStringList(raw: unknown, origin: Origin): string[] {
  if (raw === null || raw === undefined) return [];
  if (!Array.isArray(raw) || raw.some((item) => typeof item !== "string")) {
    throw invalidValue(origin, raw, `expected a list of strings, got ${showValue(raw)}`);
  }
  return raw as string[];
}

/** Splits a comma list as flags and `clusterCIDR` write it, dropping empty items. */
export function splitCommaList(text: string): string[] {
  return text.split(",").map((item) => item.trim()).filter((item) => item !== "");
}

// One parser of addresses for every input, shared with the manifests.
export { canonicalCidr, canonicalIp } from "../net/ip.ts";

/** Reads a list of CIDRs into canonical form; an error names the first bad item. */
export function readCidrs(items: readonly string[], origin: Origin): string[] {
  return items.map((item) => {
    const cidr = canonicalCidr(item.trim());
    if (cidr === undefined) {
      throw invalidValue(
        origin,
        item,
        `expected CIDRs like "10.244.0.0/16" or "fd00:10:244::/56", got ${showValue(item)}`,
      );
    }
    return cidr;
  });
}

/** Reads `clusterCIDR`: a comma list with at most one CIDR per IP family (dual-stack). */
export function readClusterCidrs(raw: unknown, origin: Origin): string[] {
  const cidrs = readCidrs(splitCommaList(readString(raw, origin)), origin);
  const v6 = cidrs.filter((cidr) => cidr.includes(":")).length;
  if (cidrs.length > 2 || v6 > 1 || cidrs.length - v6 > 1) {
    throw rejectedValue(
      origin,
      raw,
      `expected at most one IPv4 and one IPv6 CIDR, like "10.244.0.0/16,fd00:10:244::/56", ` +
        `got ${showValue(raw)}`,
    );
  }
  return cidrs;
}

/**
 * Reads `nodePortAddresses`: CIDRs, or the single word `primary` (kube-proxy rejects a mix).
 */
export function readNodePortAddresses(
  items: readonly string[],
  raw: unknown,
  origin: Origin,
): string[] {
  const trimmed = items.map((item) => item.trim());
  if (trimmed.includes("primary")) {
    if (trimmed.length !== 1) {
      throw rejectedValue(
        origin,
        raw,
        `"primary" cannot be combined with CIDRs; use either "primary" or a list of CIDRs, ` +
          `got ${showValue(raw)}`,
      );
    }
    return ["primary"];
  }
  return readCidrs(trimmed, origin);
}

/**
 * Reads a bind address `IP:port` (IPv6 as `[::]:port`). A bare IP gets `defaultPort`, and ""
 * means the default address, as kube-proxy does.
 */
export function readBindAddress(
  raw: unknown,
  origin: Origin,
  defaultAddress: string,
): string {
  const text = readString(raw, origin).trim();
  if (text === "") return defaultAddress;
  const defaultPort = defaultAddress.slice(defaultAddress.lastIndexOf(":") + 1);
  const parsed = splitHostPort(text) ?? { host: text.replace(/^\[(.*)\]$/, "$1"), port: "" };
  const host = canonicalIp(parsed.host);
  const port = parsed.port === "" ? defaultPort : parsed.port;
  if (host === undefined || !/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw invalidValue(
      origin,
      raw,
      `expected an address like "${defaultAddress}" or "[::]:${defaultPort}", got ${
        showValue(raw)
      }`,
    );
  }
  return host.includes(":") ? `[${host}]:${Number(port)}` : `${host}:${Number(port)}`;
}

/** Splits `host:port` / `[v6]:port`; undefined when there is no port part. */
function splitHostPort(text: string): { host: string; port: string } | undefined {
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (bracketed !== null) return { host: bracketed[1], port: bracketed[2] };
  const colons = text.split(":").length - 1;
  if (colons !== 1) return undefined;
  const [host, port] = text.split(":");
  return { host, port };
}

/** Go's `strconv.ParseInt(s, 0, 64)` for flag text: decimal, `0x`, `0o`, `0b`, underscores. */
export function parseGoInt(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^[+-]?(0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$/.test(trimmed)) {
    return undefined;
  }
  const negative = trimmed.startsWith("-");
  const digits = trimmed.replace(/^[+-]/, "").replaceAll("_", "");
  const octal = /^0[0-7]+$/.test(digits) ? `0o${digits.slice(1)}` : digits;
  const value = Number(octal);
  return Number.isSafeInteger(value) ? (negative ? -value : value) : undefined;
}

/**
 * Reads an integer in `[min, max]`: a YAML number in the file, Go integer text from a flag.
 */
export function readInteger(raw: unknown, origin: Origin, min: number, max: number): number {
  const value = typeof raw === "string" && origin.field.startsWith("--") ? parseGoInt(raw) : raw;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalidValue(
      origin,
      raw,
      `expected an integer from ${min} to ${max}, got ${showValue(raw)}`,
    );
  }
  return value;
}

/** Reads a number (`clientConnection.qps`): a YAML number, or decimal text from a flag. */
export function readNumber(raw: unknown, origin: Origin, min: number): number {
  const isText = typeof raw === "string" && origin.field.startsWith("--");
  const value = isText && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw.trim())
    ? Number(raw)
    : raw;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw invalidValue(origin, raw, `expected a number of at least ${min}, got ${showValue(raw)}`);
  }
  return value;
}

/** Reads an IP address (`bindAddress`) into canonical text; "" gives `fallback`. */
export function readIp(raw: unknown, origin: Origin, fallback: string): string {
  const text = readString(raw, origin).trim();
  if (text === "") return fallback;
  const ip = canonicalIp(text);
  if (ip === undefined) {
    throw invalidValue(
      origin,
      raw,
      `expected an IP address like "0.0.0.0" or "::", got ${showValue(raw)}`,
    );
  }
  return ip;
}

/** Reads a text field that must match `pattern` (or be empty), described by `expected`. */
export function readMatching(
  raw: unknown,
  origin: Origin,
  pattern: RegExp,
  expected: string,
): string {
  const text = readString(raw, origin).trim();
  if (text !== "" && !pattern.test(text)) {
    throw invalidValue(origin, raw, `expected ${expected}, got ${showValue(raw)}`);
  }
  return text;
}
