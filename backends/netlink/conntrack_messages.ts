/**
 * nfnetlink conntrack (subsystem 1) messages as bytes, and back: pure code, no kernel. A dump
 * of one family's flows (`IPCTNL_MSG_CT_GET` with `NLM_F_DUMP`), its `IPCTNL_MSG_CT_NEW`
 * replies decoded into tuples, and the delete of one flow by its exact original tuple, zone
 * and id (`IPCTNL_MSG_CT_DELETE`), as the `conntrack` tool deletes each flow it matched.
 * Addresses read as the tool prints them (glibc's `inet_ntop`), so a listed flow equals the
 * tool's.
 *
 * @module
 */

import type { IptablesFamily, UdpFlow } from "../../src/state/types.ts";
import {
  align4,
  type Attribute,
  AttributeWriter,
  concatBytes,
  HOST_LITTLE_ENDIAN,
  type NetlinkMessage,
  NetlinkParseError,
  type NetlinkRequest,
  NLA_F_NESTED,
  NLA_F_NET_BYTEORDER,
} from "./message.ts";

/** The nfnetlink subsystem of conntrack (`NFNL_SUBSYS_CTNETLINK`). */
export const NFNL_SUBSYS_CTNETLINK = 1;

/** Conntrack message types (`enum cntl_msg_types`). */
export const IPCTNL_MSG = { CT_NEW: 0, CT_GET: 1, CT_DELETE: 2 } as const;

/** Top-level conntrack attributes (`enum ctattr_type`). */
export const CTA = { TUPLE_ORIG: 1, TUPLE_REPLY: 2, TIMEOUT: 7, ID: 12, ZONE: 18 } as const;

/** Attributes inside a tuple (`enum ctattr_tuple`). */
export const CTA_TUPLE = { IP: 1, PROTO: 2, ZONE: 3 } as const;

/** Attributes inside `CTA_TUPLE_IP` (`enum ctattr_ip`). */
export const CTA_IP = { V4_SRC: 1, V4_DST: 2, V6_SRC: 3, V6_DST: 4 } as const;

/** Attributes inside `CTA_TUPLE_PROTO` (`enum ctattr_l4proto`). */
export const CTA_PROTO = { NUM: 1, SRC_PORT: 2, DST_PORT: 3 } as const;

/** The IP protocol number of UDP. */
export const IPPROTO_UDP = 17;

/** `nfgen_family` of each family (`AF_INET`, `AF_INET6`). */
export const AF: Readonly<Record<IptablesFamily, number>> = { ipv4: 2, ipv6: 10 };

const NFNETLINK_V0 = 0;

/** One direction of a flow: addresses as raw bytes (4 or 16), ports in host numbers. */
export interface ConntrackTuple {
  /** The source address. */
  readonly src: Uint8Array;
  /** The destination address. */
  readonly dst: Uint8Array;
  /** The IP protocol, e.g. {@linkcode IPPROTO_UDP}. */
  readonly protocol: number;
  /** The source port (0 for protocols without ports). */
  readonly srcPort: number;
  /** The destination port (0 for protocols without ports). */
  readonly dstPort: number;
  /** The tuple's own zone (`CTA_TUPLE_ZONE`, a zone of one direction only), when it has one. */
  readonly zone?: number;
}

/** One flow of a conntrack dump, as far as finding and deleting it needs. */
export interface ConntrackEntry {
  /** The flow's family. */
  readonly family: IptablesFamily;
  /** The original direction. */
  readonly orig: ConntrackTuple;
  /** The reply direction (after NAT: its source is the endpoint a DNAT chose). */
  readonly reply: ConntrackTuple;
  /** The kernel's id of the flow (`CTA_ID`), so a delete never hits a newer flow of the same tuple. */
  readonly id?: number;
  /** The flow's zone (`CTA_ZONE`), absent for the default zone 0. */
  readonly zone?: number;
}

function nfgenmsg(family: IptablesFamily): Uint8Array {
  return new Uint8Array([AF[family], NFNETLINK_V0, 0, 0]);
}

function messageType(command: number): number {
  return (NFNL_SUBSYS_CTNETLINK << 8) | command;
}

/**
 * The dump of one family's flows (the socket adds `NLM_F_DUMP`): the kernel lists only flows
 * of the `nfgen_family` asked for.
 *
 * @example
 * ```ts
 * const request = dumpRequest("ipv6");
 * // { type: 0x101, flags: 0, payload: Uint8Array [10, 0, 0, 0] }
 * ```
 */
export function dumpRequest(family: IptablesFamily): NetlinkRequest {
  return { type: messageType(IPCTNL_MSG.CT_GET), flags: 0, payload: nfgenmsg(family) };
}

/**
 * Writes `tuple` as the attributes of a `CTA_TUPLE_*` nest (into the nest `w` is filling).
 *
 * @example
 * ```ts
 * import { AttributeWriter } from "./message.ts";
 *
 * const tuple = { src: new Uint8Array([10, 0, 0, 5]), dst: new Uint8Array([10, 96, 0, 10]), protocol: IPPROTO_UDP, srcPort: 40000, dstPort: 53 };
 * const nest = new AttributeWriter().nested(CTA.TUPLE_ORIG, (t) => writeTuple(t, tuple)).bytes();
 * ```
 */
export function writeTuple(w: AttributeWriter, tuple: ConntrackTuple): void {
  const v6 = tuple.src.length === 16;
  w.nested(CTA_TUPLE.IP, (ip) => {
    ip.binary(v6 ? CTA_IP.V6_SRC : CTA_IP.V4_SRC, tuple.src);
    ip.binary(v6 ? CTA_IP.V6_DST : CTA_IP.V4_DST, tuple.dst);
  });
  w.nested(CTA_TUPLE.PROTO, (proto) => {
    proto.u8(CTA_PROTO.NUM, tuple.protocol);
    // The kernel reads ports as __be16 without checking NLA_F_NET_BYTEORDER (libmnl omits it).
    proto.u16(CTA_PROTO.SRC_PORT, tuple.srcPort, { order: "net" });
    proto.u16(CTA_PROTO.DST_PORT, tuple.dstPort, { order: "net" });
  });
  if (tuple.zone !== undefined) w.u16(CTA_TUPLE.ZONE, tuple.zone, { order: "net" });
}

/**
 * The delete of exactly `entry`: its original tuple, its zone and its id. A delete without a
 * tuple would flush the whole table, so there is no way to build one here.
 *
 * @example
 * ```ts
 * const request = deleteRequest({
 *   family: "ipv4",
 *   orig: { src: new Uint8Array([10, 0, 0, 5]), dst: new Uint8Array([10, 96, 0, 10]), protocol: 17, srcPort: 40000, dstPort: 53 },
 *   reply: { src: new Uint8Array([10, 244, 1, 2]), dst: new Uint8Array([10, 0, 0, 5]), protocol: 17, srcPort: 53, dstPort: 40000 },
 *   id: 7,
 * });
 * // request.type === 0x102
 * ```
 */
export function deleteRequest(entry: ConntrackEntry): NetlinkRequest {
  const w = new AttributeWriter().nested(CTA.TUPLE_ORIG, (t) => writeTuple(t, entry.orig));
  if (entry.zone !== undefined) w.u16(CTA.ZONE, entry.zone, { order: "net" });
  // With CTA_ID the kernel deletes only the flow it dumped (ENOENT for a newer one).
  if (entry.id !== undefined) w.u32(CTA.ID, entry.id, { order: "net" });
  return {
    type: messageType(IPCTNL_MSG.CT_DELETE),
    flags: 0,
    payload: concatBytes([nfgenmsg(entry.family), w.bytes()]),
  };
}

/**
 * Calls `visit` with the type (flags masked) and payload range of each attribute in
 * `[start, end)` of `view`. Decoding walks the attributes in place: a sync lists every UDP
 * flow of the node, tens of thousands, and a map per nest costs more than the kernel's dump.
 */
function forEachAttribute(
  view: DataView,
  start: number,
  end: number,
  visit: (type: number, at: number, length: number) => void,
): void {
  for (let at = start; at + 4 <= end;) {
    const length = view.getUint16(at, HOST_LITTLE_ENDIAN);
    if (length < 4 || at + length > end) {
      throw new NetlinkParseError(`conntrack attribute length ${length} at offset ${at}`);
    }
    visit(view.getUint16(at + 2, HOST_LITTLE_ENDIAN) & NLA_TYPE_MASK, at + 4, length - 4);
    at += align4(length);
  }
}

const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

interface TupleFields {
  src?: Uint8Array;
  dst?: Uint8Array;
  protocol?: number;
  srcPort: number;
  dstPort: number;
  zone?: number;
}

function readAddresses(bytes: Uint8Array, view: DataView, at: number, end: number, t: TupleFields) {
  forEachAttribute(view, at, end, (type, p, length) => {
    const v4 = type === CTA_IP.V4_SRC || type === CTA_IP.V4_DST;
    if (length !== (v4 ? 4 : 16)) throw new NetlinkParseError(`a ${length}-byte address`);
    if (type === CTA_IP.V4_SRC || type === CTA_IP.V6_SRC) t.src = bytes.slice(p, p + length);
    else t.dst = bytes.slice(p, p + length);
  });
}

function readProto(view: DataView, at: number, end: number, t: TupleFields): void {
  forEachAttribute(view, at, end, (type, p, length) => {
    if (type === CTA_PROTO.NUM && length >= 1) t.protocol = view.getUint8(p);
    else if (type === CTA_PROTO.SRC_PORT && length >= 2) t.srcPort = view.getUint16(p);
    else if (type === CTA_PROTO.DST_PORT && length >= 2) t.dstPort = view.getUint16(p);
  });
}

/** The tuple nest whose payload is `[at, end)`; ports 0 for protocols without them. */
function tupleAt(bytes: Uint8Array, view: DataView, at: number, end: number): ConntrackTuple {
  const t: TupleFields = { srcPort: 0, dstPort: 0 };
  forEachAttribute(view, at, end, (type, p, length) => {
    if (type === CTA_TUPLE.IP) readAddresses(bytes, view, p, p + length, t);
    else if (type === CTA_TUPLE.PROTO) readProto(view, p, p + length, t);
    else if (type === CTA_TUPLE.ZONE && length >= 2) t.zone = view.getUint16(p);
  });
  if (t.src === undefined || t.dst === undefined || t.protocol === undefined) {
    throw new NetlinkParseError("a conntrack tuple without its addresses or protocol");
  }
  const tuple = {
    src: t.src,
    dst: t.dst,
    protocol: t.protocol,
    srcPort: t.srcPort,
    dstPort: t.dstPort,
  };
  return t.zone === undefined ? tuple : { ...tuple, zone: t.zone };
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A `CTA_TUPLE_*` nest; ports only for protocols that have them (0 otherwise). */
export function decodeTuple(nest: Attribute, family: IptablesFamily): ConntrackTuple {
  const tuple = tupleAt(nest.data, viewOf(nest.data), 0, nest.data.length);
  if (tuple.src.length !== (family === "ipv6" ? 16 : 4)) {
    throw new NetlinkParseError(`a ${tuple.src.length}-byte ${family} address`);
  }
  return tuple;
}

function familyOf(af: number): IptablesFamily | undefined {
  return af === AF.ipv4 ? "ipv4" : af === AF.ipv6 ? "ipv6" : undefined;
}

/**
 * One flow of a dump; `undefined` for a message that is not a flow of IPv4 or IPv6 (the
 * kernel sends only flows, but a stray type must not be read as one).
 */
export function decodeEntry(message: NetlinkMessage): ConntrackEntry | undefined {
  const p = message.payload;
  if (message.type !== messageType(IPCTNL_MSG.CT_NEW) || p.length < 4) return undefined;
  const family = familyOf(p[0]);
  if (family === undefined) return undefined;
  const view = viewOf(p);
  let orig: ConntrackTuple | undefined, reply: ConntrackTuple | undefined;
  let id: number | undefined, zone: number | undefined;
  forEachAttribute(view, 4, p.length, (type, at, length) => {
    if (type === CTA.TUPLE_ORIG) orig = tupleAt(p, view, at, at + length);
    else if (type === CTA.TUPLE_REPLY) reply = tupleAt(p, view, at, at + length);
    else if (type === CTA.ID && length >= 4) id = view.getUint32(at);
    else if (type === CTA.ZONE && length >= 2) zone = view.getUint16(at);
  });
  if (orig === undefined || reply === undefined) {
    throw new NetlinkParseError("a conntrack flow without both tuples");
  }
  const size = family === "ipv6" ? 16 : 4;
  if (orig.src.length !== size || reply.src.length !== size) {
    throw new NetlinkParseError(`a ${family} flow with addresses of another family`);
  }
  const entry: ConntrackEntry = { family, orig, reply };
  if (id === undefined && zone === undefined) return entry;
  return {
    ...entry,
    ...(id === undefined ? {} : { id }),
    ...(zone === undefined ? {} : { zone }),
  };
}

/**
 * The UDP flows of `family` among the messages of a dump, in the kernel's order.
 *
 * @example
 * ```ts
 * import { NETLINK_NETFILTER, NetlinkSocket } from "./socket.ts";
 *
 * const socket = NetlinkSocket.open(NETLINK_NETFILTER);
 * const context = { operation: "conntrack list", object: "ipv4 udp flows" };
 * const flows = udpEntries(await socket.dump(dumpRequest("ipv4"), context), "ipv4");
 * socket.close();
 * ```
 */
export function udpEntries(
  messages: readonly NetlinkMessage[],
  family: IptablesFamily,
): ConntrackEntry[] {
  const entries: ConntrackEntry[] = [];
  for (const message of messages) {
    const entry = decodeEntry(message);
    if (entry?.family === family && entry.orig.protocol === IPPROTO_UDP) entries.push(entry);
  }
  return entries;
}

/**
 * An address as glibc's `inet_ntop` writes it, which is what the `conntrack` tool prints:
 * IPv6 with the first longest run of two or more zero groups as `::`, and the last 32 bits
 * dotted after `::` or `::ffff:` (`::ffff:10.1.2.3`, also `::0.2.0.3`).
 *
 * @example
 * ```ts
 * addressText(new Uint8Array([10, 96, 0, 10])); // "10.96.0.10"
 * addressText(new Uint8Array([0xfd, 0, ...new Array(13).fill(0), 1])); // "fd00::1"
 * ```
 */
export function addressText(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]);
  const run = longestZeroRun(words);
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) {
    if (run !== undefined && i >= run.base && i < run.base + run.length) {
      if (i === run.base) parts.push("");
      continue;
    }
    if (
      i === 6 && run?.base === 0 && (run.length === 6 || (run.length === 5 && words[5] === 0xffff))
    ) {
      parts.push(addressText(bytes.subarray(12, 16)));
      break;
    }
    parts.push(words[i].toString(16));
  }
  const text = parts.join(":");
  if (run === undefined) return text;
  // The run's empty part gives one colon of "::"; at either end the other one is missing.
  const head = run.base === 0 ? ":" : "";
  const tail = run.base + run.length === 8 ? ":" : "";
  return `${head}${text}${tail}`;
}

/** glibc's choice: the first longest run of zero groups, only if at least two long. */
function longestZeroRun(words: readonly number[]): { base: number; length: number } | undefined {
  let best: { base: number; length: number } | undefined;
  let base = -1;
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && words[i] === 0) {
      if (base < 0) base = i;
      continue;
    }
    if (base >= 0 && i - base >= 2 && i - base > (best?.length ?? 0)) {
      best = { base, length: i - base };
    }
    base = -1;
  }
  return best;
}

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function ipv4Bytes(text: string): number[] | undefined {
  return DOTTED_QUAD.test(text) ? text.split(".").map(Number) : undefined;
}

/** The bytes of colon-separated groups (the last may be a dotted quad when `last`). */
function groupBytes(groups: readonly string[], last: boolean): number[] | undefined {
  const out: number[] = [];
  for (const [i, group] of groups.entries()) {
    if (last && i === groups.length - 1 && group.includes(".")) {
      const v4 = ipv4Bytes(group);
      if (v4 === undefined) return undefined;
      out.push(...v4);
    } else if (HEX_GROUP.test(group)) {
      const word = parseInt(group, 16);
      out.push(word >> 8, word & 0xff);
    } else {
      return undefined;
    }
  }
  return out;
}

/**
 * IPv6 text as glibc's `inet_pton` reads it. Not ipaddr.js: it reads every embedded IPv4 as
 * mapped, so `::0.2.0.3` (what the tool prints for `::2:3`) would name another address.
 */
function ipv6Bytes(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const split = (half: string) => half === "" ? [] : half.split(":");
  const head = groupBytes(split(halves[0]), halves.length === 1);
  const tail = halves.length === 2 ? groupBytes(split(halves[1]), true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const size = head.length + tail.length;
  // "::" stands for at least one group of zeros; without it the groups fill all 16 bytes.
  if (halves.length === 2 ? size > 14 : size !== 16) return undefined;
  return new Uint8Array([...head, ...new Array(16 - size).fill(0), ...tail]);
}

/**
 * The bytes of an address of `family` as `inet_pton` accepts it (dotted quads; IPv6 in any
 * valid form, without a zone), or `undefined`.
 *
 * @example
 * ```ts
 * addressBytes("::0.2.0.3", "ipv6"); // 12 zero bytes, then 0, 2, 0, 3 (not mapped)
 * addressBytes("10.96.0.010", "ipv4"); // undefined
 * ```
 */
export function addressBytes(text: string, family: IptablesFamily): Uint8Array | undefined {
  if (family === "ipv6") return ipv6Bytes(text);
  const v4 = ipv4Bytes(text);
  return v4 === undefined ? undefined : new Uint8Array(v4);
}

/**
 * A flow as the stale-flow cleanup sees it (what `conntrack -L -p udp` gives).
 *
 * @example
 * ```ts
 * declare const entry: ConntrackEntry;
 * const { origDst, origDstPort, replySrc } = udpFlowOf(entry); // "10.96.0.10", 53, "10.244.1.2"
 * ```
 */
export function udpFlowOf(entry: ConntrackEntry): UdpFlow {
  return {
    family: entry.family,
    origDst: addressText(entry.orig.dst),
    origDstPort: entry.orig.dstPort,
    replySrc: addressText(entry.reply.src),
  };
}

/**
 * `10.0.0.5:40000 -> 10.96.0.10:53` (IPv6 in brackets), for messages.
 *
 * @example
 * ```ts
 * declare const entry: ConntrackEntry;
 * console.log(`deleting ${tupleText(entry.orig)}`);
 * ```
 */
export function tupleText(tuple: ConntrackTuple): string {
  const end = (address: Uint8Array, port: number) =>
    address.length === 16 ? `[${addressText(address)}]:${port}` : `${addressText(address)}:${port}`;
  return `${end(tuple.src, tuple.srcPort)} -> ${end(tuple.dst, tuple.dstPort)}`;
}
