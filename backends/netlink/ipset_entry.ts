/**
 * One ipset entry in `ipset save` syntax and as the kernel's CADT attributes, both ways:
 * `10.0.0.1,tcp:80` is IP {IPV4 10.0.0.1}, PORT 80, PROTO 6; `10.0.0.1,tcp:80,10.1.0.0/16`
 * adds IP2 and CIDR2; a bitmap:port entry `30080` is PORT only. Addresses are nested with
 * `NLA_F_NESTED`, ports and IPv4 addresses flagged network order, as ipset requires.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import {
  type Attribute,
  attributeMap,
  type AttributeWriter,
  attrU16,
  attrU8,
  NLA_F_NET_BYTEORDER,
} from "./message.ts";

/** CADT attributes (inside `IPSET_ATTR_DATA`). */
export const ENTRY_ATTR = {
  IP: 1,
  CIDR: 3,
  PORT: 4,
  PORT_TO: 5,
  PROTO: 7,
  CADT_FLAGS: 8,
  LINENO: 9,
  IP2: 20,
  CIDR2: 21,
} as const;

const IPADDR_IPV4 = 1;
const IPADDR_IPV6 = 2;

const PROTOCOL_NUMBERS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };
const PROTOCOL_NAMES = new Map(Object.entries(PROTOCOL_NUMBERS).map(([n, v]) => [v, n]));

/** An entry that cannot be encoded. */
export class IpsetEntryError extends Error {
  /** The entry's index in the list it came from, when a list was being encoded. */
  index?: number;

  /** An error naming the entry and what is wrong with it. */
  constructor(entry: string, problem: string) {
    super(`Cannot encode the ipset entry '${entry}': ${problem}`);
    this.name = "IpsetEntryError";
  }
}

interface Address {
  readonly bytes: number[];
  readonly v6: boolean;
  readonly cidr?: number;
}

function parseAddress(text: string, entry: string): Address {
  const [ip, prefix] = text.split("/");
  if (!ipaddr.isValid(ip)) throw new IpsetEntryError(entry, `'${ip}' is not an IP address`);
  const parsed = ipaddr.parse(ip);
  const v6 = parsed.kind() === "ipv6";
  if (prefix === undefined) return { bytes: parsed.toByteArray(), v6 };
  const cidr = Number(prefix);
  if (!/^\d+$/.test(prefix) || cidr > (v6 ? 128 : 32)) {
    throw new IpsetEntryError(entry, `'/${prefix}' is not a prefix length`);
  }
  return { bytes: parsed.toByteArray(), v6, cidr };
}

function parsePort(text: string, entry: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new IpsetEntryError(entry, `'${text}' is not a port`);
  }
  return port;
}

function writeAddress(w: AttributeWriter, type: number, address: Address): void {
  w.nested(type, (inner) => {
    const bytes = new Uint8Array(address.bytes);
    inner.binary((address.v6 ? IPADDR_IPV6 : IPADDR_IPV4) | NLA_F_NET_BYTEORDER, bytes);
  });
}

/**
 * Writes the CADT attributes of one entry (`ipset save` syntax) into `w`, with `lineno` so
 * the kernel can name it if it fails. Throws {@linkcode IpsetEntryError} for a malformed one.
 */
export function writeEntry(w: AttributeWriter, entry: string, lineno: number): void {
  const parts = entry.split(",");
  if (parts.length === 1 && /^\d+$/.test(entry)) {
    w.u16(ENTRY_ATTR.PORT, parsePort(entry, entry), { order: "flagged" });
  } else {
    const first = parseAddress(parts[0], entry);
    writeAddress(w, ENTRY_ATTR.IP, first);
    if (first.cidr !== undefined) w.u8(ENTRY_ATTR.CIDR, first.cidr);
    if (parts.length >= 2) writeProtocolPort(w, parts[1], entry);
    if (parts.length === 3) {
      const second = parseAddress(parts[2], entry);
      if (second.v6 !== first.v6) throw new IpsetEntryError(entry, "mixes IPv4 and IPv6");
      writeAddress(w, ENTRY_ATTR.IP2, second);
      if (second.cidr !== undefined) w.u8(ENTRY_ATTR.CIDR2, second.cidr);
    }
    if (parts.length > 3) throw new IpsetEntryError(entry, "has more than three parts");
  }
  w.u32(ENTRY_ATTR.LINENO, lineno);
}

function writeProtocolPort(w: AttributeWriter, text: string, entry: string): void {
  const [name, port] = text.split(":");
  const protocol = PROTOCOL_NUMBERS[name];
  if (protocol === undefined || port === undefined) {
    throw new IpsetEntryError(entry, `'${text}' is not tcp:PORT, udp:PORT or sctp:PORT`);
  }
  w.u16(ENTRY_ATTR.PORT, parsePort(port, entry), { order: "flagged" });
  w.u8(ENTRY_ATTR.PROTO, protocol);
}

function addressText(attribute: Attribute): string {
  const inner = attributeMap(attribute.data);
  const v4 = inner.get(IPADDR_IPV4);
  if (v4 !== undefined) return ipaddr.fromByteArray([...v4.data]).toString();
  const v6 = inner.get(IPADDR_IPV6);
  if (v6 !== undefined) return ipaddr.fromByteArray([...v6.data]).toString();
  throw new IpsetEntryError("(from the kernel)", "an address attribute without an address");
}

// `ipset save` leaves out a prefix that covers the whole address: `10.1.0.5`, not `/32`.
function withPrefix(address: string, cidr: Attribute | undefined): string {
  if (cidr === undefined) return address;
  const bits = attrU8(cidr);
  return bits === (address.includes(":") ? 128 : 32) ? address : `${address}/${bits}`;
}

/**
 * An entry as `ipset save` prints it, from the CADT attributes of one `IPSET_ATTR_DATA`
 * the kernel listed: `10.0.0.1,tcp:80`, `fd00::1,udp:53,fd00::2`, `30080`.
 */
export function entryText(data: Uint8Array): string {
  const a = attributeMap(data);
  const ip = a.get(ENTRY_ATTR.IP);
  const port = a.get(ENTRY_ATTR.PORT);
  if (ip === undefined) {
    if (port === undefined) throw new IpsetEntryError("(from the kernel)", "neither IP nor port");
    return String(attrU16(port, true));
  }
  const parts = [withPrefix(addressText(ip), a.get(ENTRY_ATTR.CIDR))];
  if (port !== undefined) {
    const proto = a.get(ENTRY_ATTR.PROTO);
    const number = proto === undefined ? 0 : attrU8(proto);
    parts.push(`${PROTOCOL_NAMES.get(number) ?? number}:${attrU16(port, true)}`);
  }
  const ip2 = a.get(ENTRY_ATTR.IP2);
  if (ip2 !== undefined) parts.push(withPrefix(addressText(ip2), a.get(ENTRY_ATTR.CIDR2)));
  return parts.join(",");
}
