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
  align4,
  type AttributeWriter,
  HOST_LITTLE_ENDIAN,
  NetlinkParseError,
  NLA_F_NESTED,
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
const IPSET_ATTR_DATA = 7;

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

/**
 * Dotted-quad IPv4 without ipaddr.js (the common case, tens of thousands per cold sync):
 * four decimal octets without leading zeros; anything else is left to ipaddr.js.
 */
function dottedQuad(ip: string): number[] | undefined {
  const bytes = [0, 0, 0, 0];
  let part = 0, digits = 0, value = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46; // a final "."
    if (c === 46) {
      if (digits === 0 || part > 3) return undefined;
      bytes[part++] = value;
      digits = value = 0;
    } else if (c >= 48 && c <= 57 && !(digits > 0 && value === 0)) {
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return undefined;
    } else return undefined;
  }
  return part === 4 ? bytes : undefined;
}

function parseAddress(text: string, entry: string): Address {
  const [ip, prefix] = text.split("/");
  let bytes = dottedQuad(ip);
  let v6 = false;
  if (bytes === undefined) {
    if (!ipaddr.isValid(ip)) throw new IpsetEntryError(entry, `'${ip}' is not an IP address`);
    const parsed = ipaddr.parse(ip);
    v6 = parsed.kind() === "ipv6";
    bytes = parsed.toByteArray();
  }
  if (prefix === undefined) return { bytes, v6 };
  const cidr = Number(prefix);
  if (!/^\d+$/.test(prefix) || cidr > (v6 ? 128 : 32)) {
    throw new IpsetEntryError(entry, `'/${prefix}' is not a prefix length`);
  }
  return { bytes, v6, cidr };
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
    inner.binary((address.v6 ? IPADDR_IPV6 : IPADDR_IPV4) | NLA_F_NET_BYTEORDER, address.bytes);
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

// The fast path of `writeDataEntry`: kube-proxy's entries are IPv4 in a handful of shapes
// (`10.96.0.1,tcp:443`, `10.0.0.1,tcp:80,10.0.0.1`, `1.2.3.4,tcp:80,10.0.0.0/8`,
// `10.0.0.0/8`, `30080`), tens of thousands per cold sync. They are scanned once and written
// straight into the message, the bytes exactly those `writeEntry` writes; anything else
// (IPv6, a malformed entry) is left to `writeEntry`, which also words the errors.

/** The largest IPv4 entry: DATA { IP { IPV4 } CIDR PORT PROTO IP2 { IPV4 } CIDR2 LINENO }. */
const MAX_FAST_ENTRY = 4 + 12 + 8 + 8 + 8 + 12 + 8 + 8;

/** The value the last `digitsAt` read (module state: no tuple per number, it is hot). */
let scanned = 0;

/**
 * The end of the run of decimal digits at `from` whose value (in `scanned`) is at most
 * `max`; -1 when there is no digit or the value is larger.
 */
function digitsAt(entry: string, from: number, max: number): number {
  let value = 0;
  let i = from;
  for (; i < entry.length; i++) {
    const c = entry.charCodeAt(i);
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
    if (value > max) return -1;
  }
  scanned = value;
  return i === from ? -1 : i;
}

/**
 * Writes the dotted quad at `from` (the grammar of `dottedQuad`) into `buffer` at `to`;
 * returns the index after it, or -1 when it is not one.
 */
function quadAt(entry: string, from: number, buffer: Uint8Array, to: number): number {
  let i = from;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (entry.charCodeAt(i) !== 46) return -1;
      i++;
    }
    const end = digitsAt(entry, i, 255);
    if (end < 0 || end - i > 3 || (end - i > 1 && entry.charCodeAt(i) === 48)) return -1;
    buffer[to + part] = scanned;
    i = end;
  }
  return i;
}

function attributeHeader(view: DataView, at: number, length: number, type: number): void {
  view.setUint16(at, length, HOST_LITTLE_ENDIAN);
  view.setUint16(at + 2, type, HOST_LITTLE_ENDIAN);
}

/** A u8 attribute (8 bytes with padding) at `at`. */
function u8At(buffer: Uint8Array, view: DataView, at: number, type: number, value: number) {
  attributeHeader(view, at, 5, type);
  buffer[at + 4] = value;
  buffer[at + 5] = buffer[at + 6] = buffer[at + 7] = 0;
}

/**
 * The nested IPv4 address (and its CIDR attribute when it has a prefix) at `from`, written at
 * `to`; returns the index after it in `entry` and leaves the bytes written in `scanned`, or
 * -1 when it is not a plain IPv4 address with an optional `/prefix` of 0-32.
 */
function addressAttributesAt(
  entry: string,
  from: number,
  buffer: Uint8Array,
  view: DataView,
  to: number,
  types: readonly [ip: number, cidr: number],
): number {
  attributeHeader(view, to, 12, types[0] | NLA_F_NESTED);
  attributeHeader(view, to + 4, 8, IPADDR_IPV4 | NLA_F_NET_BYTEORDER);
  let i = quadAt(entry, from, buffer, to + 8);
  if (i < 0) return -1;
  let size = 12;
  if (entry.charCodeAt(i) === 47) { // "/"
    i = digitsAt(entry, i + 1, 32);
    if (i < 0) return -1;
    u8At(buffer, view, to + 12, types[1], scanned);
    size += 8;
  }
  scanned = size;
  return i;
}

const FIRST_ADDRESS = [ENTRY_ATTR.IP, ENTRY_ATTR.CIDR] as const;
const SECOND_ADDRESS = [ENTRY_ATTR.IP2, ENTRY_ATTR.CIDR2] as const;

/** `tcp:`, `udp:` or `sctp:` at `from`: the protocol number, or 0. */
function protocolAt(entry: string, from: number): number {
  if (entry.startsWith("tcp:", from)) return 6;
  if (entry.startsWith("udp:", from)) return 17;
  if (entry.startsWith("sctp:", from)) return 132;
  return 0;
}

/** `,PROTO:PORT` at `from` written at `to` (PORT, PROTO); the index after it, or -1. */
function protocolPortAt(
  entry: string,
  from: number,
  buffer: Uint8Array,
  view: DataView,
  to: number,
): number {
  if (entry.charCodeAt(from) !== 44) return -1; // ","
  const protocol = protocolAt(entry, from + 1);
  if (protocol === 0) return -1;
  const end = digitsAt(entry, from + (protocol === 132 ? 6 : 5), 65535);
  if (end < 0) return -1;
  portAt(buffer, view, to, scanned);
  u8At(buffer, view, to + 8, ENTRY_ATTR.PROTO, protocol);
  return end;
}

/** A PORT attribute (network order, flagged) at `at`. */
function portAt(buffer: Uint8Array, view: DataView, at: number, port: number): void {
  attributeHeader(view, at, 6, ENTRY_ATTR.PORT | NLA_F_NET_BYTEORDER);
  buffer[at + 4] = port >> 8;
  buffer[at + 5] = port & 255;
  buffer[at + 6] = buffer[at + 7] = 0;
}

/**
 * The attributes of a common IPv4 entry (or a bare port) at `at`, after its DATA header:
 * their size, or -1 for any other entry.
 */
function fastAttributes(entry: string, buffer: Uint8Array, view: DataView, at: number): number {
  const port = digitsAt(entry, 0, 65535);
  if (port === entry.length) {
    portAt(buffer, view, at, scanned);
    return 8;
  }
  let i = addressAttributesAt(entry, 0, buffer, view, at, FIRST_ADDRESS);
  if (i < 0) return -1;
  let to = at + scanned;
  if (i < entry.length) {
    i = protocolPortAt(entry, i, buffer, view, to);
    if (i < 0) return -1;
    to += 16;
  }
  if (i < entry.length) {
    if (entry.charCodeAt(i) !== 44) return -1; // ","
    i = addressAttributesAt(entry, i + 1, buffer, view, to, SECOND_ADDRESS);
    if (i !== entry.length) return -1;
    to += scanned;
  }
  return to - at;
}

/** The whole DATA nest of a common entry at `at`: its size, or -1 for any other entry. */
function fastEntry(
  entry: string,
  lineno: number,
  buffer: Uint8Array,
  view: DataView,
  at: number,
): number {
  const size = fastAttributes(entry, buffer, view, at + 4);
  if (size < 0) return -1;
  const end = at + 4 + size;
  attributeHeader(view, end, 8, ENTRY_ATTR.LINENO);
  view.setUint32(end + 4, lineno, HOST_LITTLE_ENDIAN);
  attributeHeader(view, at, size + 12, IPSET_ATTR_DATA | NLA_F_NESTED);
  return size + 12;
}

/**
 * Writes one entry (`ipset save` syntax) as an `IPSET_ATTR_DATA` nest of its CADT attributes
 * and `lineno`, as `w.nested(DATA, (d) => writeEntry(d, entry, lineno))` does, only without
 * the per-attribute work for kube-proxy's IPv4 shapes. Throws {@linkcode IpsetEntryError}
 * for a malformed entry.
 */
export function writeDataEntry(w: AttributeWriter, entry: string, lineno: number): void {
  const written = w.append(
    MAX_FAST_ENTRY,
    (buffer, view, at) => fastEntry(entry, lineno, buffer, view, at),
  );
  if (written < 0) w.nested(IPSET_ATTR_DATA, (data) => writeEntry(data, entry, lineno));
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

/** An attribute header's length and type (flags masked) at `at`. */
function headerAt(view: DataView, at: number): [length: number, type: number] {
  return [
    view.getUint16(at, HOST_LITTLE_ENDIAN),
    view.getUint16(at + 2, HOST_LITTLE_ENDIAN) & ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER),
  ];
}

/** The text of the nested address attribute whose payload spans `[at, end)`. */
function addressAt(bytes: Uint8Array, view: DataView, at: number, end: number): string {
  for (let inner = at; inner + 4 <= end;) {
    const [length, type] = headerAt(view, inner);
    const p = inner + 4;
    if (type === IPADDR_IPV4 && length >= 8) {
      return `${bytes[p]}.${bytes[p + 1]}.${bytes[p + 2]}.${bytes[p + 3]}`;
    }
    if (type === IPADDR_IPV6 && length >= 20) {
      return ipaddr.fromByteArray(Array.from(bytes.subarray(p, p + 16))).toString();
    }
    inner += align4(Math.max(length, 4));
  }
  throw new NetlinkParseError("an ipset address attribute without an address");
}

// `ipset save` leaves out a prefix that covers the whole address: `10.1.0.5`, not `/32`.
function withPrefix(address: string, cidr: number): string {
  return cidr < 0 || cidr === (address.includes(":") ? 128 : 32) ? address : `${address}/${cidr}`;
}

/**
 * An entry as `ipset save` prints it, from the CADT attributes of one `IPSET_ATTR_DATA`
 * the kernel listed (the payload spanning `[start, end)` of `bytes`): `10.0.0.1,tcp:80`,
 * `fd00::1,udp:53,fd00::2`, `30080`. Decoded in place, without objects per attribute: a
 * read walks tens of thousands of them.
 */
export function entryText(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let ip = "", ip2 = "", cidr = -1, cidr2 = -1, port = -1, proto = 0;
  for (let at = start; at + 4 <= end;) {
    const [length, type] = headerAt(view, at);
    if (length < 4 || at + length > end) {
      throw new NetlinkParseError(`ipset entry attribute at ${at}`);
    }
    const p = at + 4;
    if (type === ENTRY_ATTR.IP) ip = addressAt(bytes, view, p, at + length);
    else if (type === ENTRY_ATTR.IP2) ip2 = addressAt(bytes, view, p, at + length);
    else if (type === ENTRY_ATTR.CIDR) cidr = bytes[p];
    else if (type === ENTRY_ATTR.CIDR2) cidr2 = bytes[p];
    else if (type === ENTRY_ATTR.PORT) port = (bytes[p] << 8) | bytes[p + 1];
    else if (type === ENTRY_ATTR.PROTO) proto = bytes[p];
    at += align4(length);
  }
  if (ip === "") {
    if (port < 0) throw new NetlinkParseError("an ipset entry with neither IP nor port");
    return String(port);
  }
  let text = withPrefix(ip, cidr);
  if (port >= 0) text += `,${PROTOCOL_NAMES.get(proto) ?? proto}:${port}`;
  if (ip2 !== "") text += `,${withPrefix(ip2, cidr2)}`;
  return text;
}

/** Every entry of an `IPSET_ATTR_ADT` nest's payload, in the kernel's order. */
export function entriesText(adt: Uint8Array): string[] {
  const view = new DataView(adt.buffer, adt.byteOffset, adt.byteLength);
  const entries: string[] = [];
  for (let at = 0; at + 4 <= adt.length;) {
    const [length, type] = headerAt(view, at);
    if (length < 4 || at + length > adt.length) throw new NetlinkParseError(`ipset ADT at ${at}`);
    if (type === IPSET_ATTR_DATA) entries.push(entryText(adt, at + 4, at + length));
    at += align4(length);
  }
  return entries;
}
