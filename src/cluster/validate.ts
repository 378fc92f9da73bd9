/**
 * Kubernetes' own rules for the values the proxier reads: object names, port names, port
 * numbers, protocols, IPs and CIDRs. Predicates answer yes/no; the `canonical*` functions return
 * the canonical text form, or `undefined` for a value Kubernetes would reject.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import { ipFamilyOf as netFamilyOf } from "../net/ip.ts";
import type { IpFamily, Protocol } from "./types.ts";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IANA_SVC_NAME = /^[-a-z0-9]+$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** What {@link isDns1123Label} accepts, for messages. */
export const DNS1123_LABEL_RULE =
  "must be a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)";

/** What {@link isDns1035Label} accepts, for messages. */
export const DNS1035_LABEL_RULE =
  "must be a DNS-1035 label (at most 63 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit)";

/** What {@link isDns1123Subdomain} accepts, for messages. */
export const DNS1123_SUBDOMAIN_RULE =
  "must be a DNS-1123 subdomain (at most 253 lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit)";

/**
 * A DNS-1123 label (namespaces, port names): lowercase letters, digits and '-', starting and
 * ending with a letter or digit, at most 63 characters.
 *
 * @example
 * ```ts
 * isDns1123Label("kube-system"); // true
 * isDns1123Label("Kube System"); // false
 * ```
 */
export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

/** A DNS-1035 label (Service names): like a DNS-1123 label but starting with a letter. */
export function isDns1035Label(value: string): boolean {
  return value.length <= 63 && DNS1035_LABEL.test(value);
}

/** A DNS-1123 subdomain (EndpointSlice and Node names): dot-separated labels, at most 253. */
export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && DNS1123_SUBDOMAIN.test(value);
}

/**
 * An IANA service name (a named `targetPort`): at most 15 lowercase letters, digits and '-',
 * with at least one letter, no leading, trailing or doubled '-'.
 */
export function isIanaSvcName(value: string): boolean {
  return value.length >= 1 && value.length <= 15 && IANA_SVC_NAME.test(value) &&
    /[a-z]/.test(value) && !value.includes("--") && !value.startsWith("-") &&
    !value.endsWith("-");
}

/** A label value (`kubernetes.io/service-name`): at most 63 of `[A-Za-z0-9_.-]`, alnum ends. */
export function isLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

/** A port number: an integer from 1 to 65535. */
export function isPortNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535;
}

const PROTOCOLS: Readonly<Record<string, Protocol>> = { TCP: "tcp", UDP: "udp", SCTP: "sctp" };

/**
 * The API's protocol (`TCP`, `UDP`, `SCTP`, case-sensitive as Kubernetes has it) in the
 * project's lowercase form; `undefined` for anything else.
 */
export function toProtocol(value: string): Protocol | undefined {
  return Object.hasOwn(PROTOCOLS, value) ? PROTOCOLS[value] : undefined;
}

// One parser of addresses for every input, shared with the config.
export { canonicalCidr, canonicalIp } from "../net/ip.ts";

/** The family of a canonical IP (as returned by {@link canonicalIp}). */
export function ipFamilyOf(canonical: string): IpFamily {
  return netFamilyOf(canonical);
}

/**
 * Why Kubernetes refuses a canonical IP as an endpoint or external IP (it may not be
 * unspecified, loopback, link-local or link-local multicast), or `undefined` if it is fine.
 */
export function specialIpReason(canonical: string): string | undefined {
  if (!canonical.includes(":")) return specialIpv4Reason(canonical);
  const ip = ipaddr.parse(canonical);
  const range = ip.range();
  if (range === "unspecified") return UNSPECIFIED;
  if (range === "loopback") return LOOPBACK;
  if (range === "linkLocal") return LINK_LOCAL;
  if (ip.match(ipaddr.parseCIDR("ff02::/16"))) return LINK_LOCAL_MULTICAST;
  return undefined;
}

const UNSPECIFIED = "may not be unspecified (0.0.0.0 or ::)";
const LOOPBACK = "may not be in the loopback range (127.0.0.0/8, ::1/128)";
const LINK_LOCAL = "may not be in the link-local range (169.254.0.0/16, fe80::/10)";
const LINK_LOCAL_MULTICAST =
  "may not be in the link-local multicast range (224.0.0.0/24, ff02::/16)";

/**
 * {@link specialIpReason} for IPv4: the same ranges as ipaddr.js's (`0.0.0.0/8` unspecified,
 * `127.0.0.0/8`, `169.254.0.0/16`, `224.0.0.0/24`), by prefix, which is exact on the canonical
 * form (no leading zeros), without parsing the address again for every endpoint.
 */
function specialIpv4Reason(canonical: string): string | undefined {
  if (canonical.startsWith("0.")) return UNSPECIFIED;
  if (canonical.startsWith("127.")) return LOOPBACK;
  if (canonical.startsWith("169.254.")) return LINK_LOCAL;
  if (canonical.startsWith("224.0.0.")) return LINK_LOCAL_MULTICAST;
  return undefined;
}

/**
 * A value as it may safely appear in a one-line message: JSON-quoted, with every character
 * outside printable ASCII escaped (so no newline, U+2028 or bidi control reaches a log line),
 * and cut at 200 characters.
 *
 * @example
 * ```ts
 * quote("a\nb"); // "\"a\\nb\""
 * quote(70000); // "70000"
 * ```
 */
export function quote(value: unknown): string {
  if (typeof value === "string" && value.length > 200) value = `${value.slice(0, 200)}...`;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  if (text.length > 210) text = `${text.slice(0, 200)}...`;
  return escapeNonPrintable(text);
}

/** Escapes every character outside printable ASCII as `\uXXXX`. */
export function escapeNonPrintable(text: string): string {
  return text.replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
