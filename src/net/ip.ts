/**
 * The one parser of IP addresses and CIDRs for every input (config, flags, manifests): canonical
 * text out, `undefined` for anything Kubernetes or kube-proxy would refuse.
 *
 * @module
 */

import ipaddr from "ipaddr.js";

const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4_FOUR_PART_DECIMAL = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

/** True for IPv4 in canonical form (four decimal parts, no leading zeros): a cheap first check. */
export function isCanonicalIpv4(text: string): boolean {
  return IPV4_FOUR_PART_DECIMAL.test(text);
}

/** An IP family, as the Kubernetes API spells it. */
export type IpFamilyName = "IPv4" | "IPv6";

/**
 * The canonical form of an IP address (IPv6 compressed, lowercase), or `undefined`. Stricter
 * than `ipaddr.isValid`: IPv4 must be four decimal parts (`010.0.0.1` reads as octal
 * elsewhere, `1.2.3` as a short form); IPv6 may not carry a zone or be IPv4-mapped (Go treats
 * `::ffff:a.b.c.d` as IPv4).
 *
 * @example
 * ```ts
 * canonicalIp("fd00:10:96:0::5"); // "fd00:10:96::5"
 * canonicalIp("1.2.3"); // undefined
 * ```
 */
export function canonicalIp(value: string): string | undefined {
  // Four decimal parts without leading zeros, each up to 255, is already canonical; checked by
  // hand because this runs for every address of every object (ipaddr's check costs ~10x).
  if (value.includes(".") && !value.includes(":")) {
    return IPV4_FOUR_PART_DECIMAL.test(value) ? value : undefined;
  }
  if (!/^[0-9A-Fa-f:.]+$/.test(value) || !ipaddr.IPv6.isValid(value)) return undefined;
  const ip = ipaddr.IPv6.parse(value);
  return ip.isIPv4MappedAddress() ? undefined : ip.toString();
}

/** The family of a canonical IP or CIDR. */
export function ipFamilyOf(canonical: string): IpFamilyName {
  return canonical.includes(":") ? "IPv6" : "IPv4";
}

/**
 * The canonical form of a CIDR, host bits cleared the way Go's `net.ParseCIDR` reports it
 * (`192.168.3.4/16` -> `192.168.0.0/16`) and the prefix length in plain decimal (Go reads
 * `/016` as 16, and iptables-save prints `/16`), or `undefined` when invalid.
 */
export function canonicalCidr(value: string): string | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(value);
  if (!match) return undefined;
  const ip = canonicalIp(match[1]);
  const prefix = Number(match[2]);
  if (ip === undefined || prefix > (ipFamilyOf(ip) === "IPv4" ? 32 : 128)) return undefined;
  const network = ipFamilyOf(ip) === "IPv4"
    ? ipaddr.IPv4.networkAddressFromCIDR(`${ip}/${prefix}`)
    : ipaddr.IPv6.networkAddressFromCIDR(`${ip}/${prefix}`);
  return `${network.toString()}/${prefix}`;
}
