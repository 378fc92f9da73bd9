/**
 * Generic netlink, without a socket: the 4-byte genl header that starts every message body,
 * the netlink attributes (TLVs) inside it, and the controller's CTRL_CMD_GETFAMILY, which turns
 * a family name such as "IPVS" into the message type to send to. The socket layer
 * (`socket.ts`) puts these bodies behind an `nlmsghdr` and matches the replies.
 *
 * Layout (`linux/genetlink.h`, `linux/netlink.h`), all integers in host order (little endian
 * here) unless an attribute says otherwise:
 *
 * ```
 * genlmsghdr: cmd u8 | version u8 | reserved u16
 * nlattr:     nla_len u16 (header + data, unpadded) | nla_type u16 | data | pad to 4
 * ```
 *
 * @module
 */

/** The controller family's fixed message type (`GENL_ID_CTRL`). */
export const GENL_ID_CTRL = 0x10;

/** The size of the genl header in bytes (`GENL_HDRLEN`). */
export const GENL_HEADER_SIZE = 4;

/** The controller's commands (`CTRL_CMD_*`) that this module uses. */
export const CTRL_CMD = { NEWFAMILY: 1, GETFAMILY: 3 } as const;

/** The controller's attributes (`CTRL_ATTR_*`) that this module reads or writes. */
export const CTRL_ATTR = {
  FAMILY_ID: 1,
  FAMILY_NAME: 2,
  VERSION: 3,
  HDRSIZE: 4,
  MAXATTR: 5,
} as const;

/** Set in `nla_type` on an attribute that holds attributes (`NLA_F_NESTED`). */
export const NLA_F_NESTED = 0x8000;
/** Set in `nla_type` on a value in network byte order (`NLA_F_NET_BYTEORDER`). */
export const NLA_F_NET_BYTEORDER = 0x4000;
const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;
const NLA_HEADER_SIZE = 4;

/** An attribute that holds a value (bytes). */
export interface GenlValueAttribute {
  /** The attribute type, without flags. */
  readonly type: number;
  /** The value's bytes, unpadded. */
  readonly data: Uint8Array;
}

/** One attribute to encode: raw bytes, or attributes nested inside it. */
export type GenlAttribute =
  | GenlValueAttribute
  | {
    readonly type: number;
    readonly nested: readonly GenlAttribute[];
    /**
     * Whether to set {@linkcode NLA_F_NESTED}. IPVS parses nests the old way and takes
     * either; ipvsadm (libnl) sends them without, and so does this module by default.
     * @default false
     */
    readonly flagNested?: boolean;
  };

/** A decoded genl message body: the command, its version and the top-level attributes. */
export interface GenlMessage {
  /** The command, e.g. `CTRL_CMD.NEWFAMILY`. */
  readonly cmd: number;
  /** The family's interface version the sender used. */
  readonly version: number;
  /** The attributes after the header (and after any family header, which IPVS has none of). */
  readonly attributes: Uint8Array;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function encodedSize(attr: GenlAttribute): number {
  const body = "data" in attr
    ? attr.data.length
    : attr.nested.reduce((sum, a) => sum + align4(encodedSize(a)), 0);
  return NLA_HEADER_SIZE + body;
}

function writeAttribute(out: Uint8Array, offset: number, attr: GenlAttribute): number {
  const size = encodedSize(attr);
  if (size > 0xffff) throw new RangeError(`Netlink attribute ${attr.type} is too long (${size})`);
  const view = new DataView(out.buffer, out.byteOffset + offset, NLA_HEADER_SIZE);
  const nested = "nested" in attr;
  view.setUint16(0, size, true);
  view.setUint16(2, attr.type | (nested && attr.flagNested ? NLA_F_NESTED : 0), true);
  let at = offset + NLA_HEADER_SIZE;
  if (nested) {
    for (const inner of attr.nested) at = align4(writeAttribute(out, at, inner));
  } else {
    out.set(attr.data, at);
    at += attr.data.length;
  }
  return at;
}

/** The attributes as bytes, each padded to 4 bytes (padding zeroed). */
export function encodeAttributes(attrs: readonly GenlAttribute[]): Uint8Array {
  const out = new Uint8Array(attrs.reduce((sum, a) => sum + align4(encodedSize(a)), 0));
  let at = 0;
  for (const attr of attrs) at = align4(writeAttribute(out, at, attr));
  return out;
}

/**
 * The attributes in `bytes` by type (flags masked off); a repeated type keeps the last.
 * Throws on an attribute whose length runs past the end, which only a broken reply has.
 */
export function parseAttributes(bytes: Uint8Array): Map<number, Uint8Array> {
  const result = new Map<number, Uint8Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + NLA_HEADER_SIZE <= bytes.length) {
    const length = view.getUint16(at, true);
    const type = view.getUint16(at + 2, true) & NLA_TYPE_MASK;
    if (length < NLA_HEADER_SIZE || at + length > bytes.length) {
      throw new RangeError(
        `Malformed netlink attribute at byte ${at}: length ${length} of ${bytes.length - at} left`,
      );
    }
    result.set(type, bytes.subarray(at + NLA_HEADER_SIZE, at + length));
    at += align4(length);
  }
  return result;
}

/** A genl message body: the header for `cmd` and `version`, then the attributes. */
export function encodeGenl(
  cmd: number,
  version: number,
  attrs: readonly GenlAttribute[],
): Uint8Array {
  const attributes = encodeAttributes(attrs);
  const out = new Uint8Array(GENL_HEADER_SIZE + attributes.length);
  out[0] = cmd;
  out[1] = version;
  out.set(attributes, GENL_HEADER_SIZE);
  return out;
}

/** Splits a genl message body into its header fields and its attributes. */
export function decodeGenl(body: Uint8Array): GenlMessage {
  if (body.length < GENL_HEADER_SIZE) {
    throw new RangeError(`A genl message needs ${GENL_HEADER_SIZE} bytes, got ${body.length}`);
  }
  return { cmd: body[0], version: body[1], attributes: body.subarray(GENL_HEADER_SIZE) };
}

// Value codecs for attribute data, named after the kernel's nla_put_* / nla_get_* helpers.

/** A u8 attribute. */
export function u8(type: number, value: number): GenlValueAttribute {
  return { type, data: Uint8Array.of(value) };
}

/** A u16 attribute in host order. */
export function u16(type: number, value: number): GenlValueAttribute {
  const data = new Uint8Array(2);
  new DataView(data.buffer).setUint16(0, value, true);
  return { type, data };
}

/**
 * A u16 in network order, without {@linkcode NLA_F_NET_BYTEORDER} (IPVS ports: the
 * kernel's `nla_get_be16` reads the bytes as they are and never looks at the flag).
 */
export function be16(type: number, value: number): GenlValueAttribute {
  const data = new Uint8Array(2);
  new DataView(data.buffer).setUint16(0, value, false);
  return { type, data };
}

/** A u32 attribute in host order. */
export function u32(type: number, value: number): GenlValueAttribute {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, value >>> 0, true);
  return { type, data };
}

/** A NUL-terminated string attribute (`nla_put_string`). */
export function nulString(type: number, value: string): GenlValueAttribute {
  const text = new TextEncoder().encode(value);
  const data = new Uint8Array(text.length + 1);
  data.set(text);
  return { type, data };
}

function need(data: Uint8Array | undefined, size: number, what: string): DataView {
  if (data === undefined || data.length < size) {
    throw new RangeError(`${what}: expected ${size} bytes, got ${data?.length ?? "none"}`);
  }
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

/** Reads a host-order u16 attribute's value. */
export function readU16(data: Uint8Array | undefined, what: string): number {
  return need(data, 2, what).getUint16(0, true);
}

/** Reads a network-order u16 attribute's value. */
export function readBe16(data: Uint8Array | undefined, what: string): number {
  return need(data, 2, what).getUint16(0, false);
}

/** Reads a host-order u32 attribute's value. */
export function readU32(data: Uint8Array | undefined, what: string): number {
  return need(data, 4, what).getUint32(0, true);
}

/** Reads a string attribute up to its first NUL (or its end). */
export function readString(data: Uint8Array | undefined, what: string): string {
  if (data === undefined) throw new RangeError(`${what}: missing`);
  const nul = data.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? data : data.subarray(0, nul));
}

/** What the controller says about a family (`CTRL_CMD_NEWFAMILY`, the reply to GETFAMILY). */
export interface GenlFamily {
  /** The message type to send the family's requests with, e.g. 36. */
  readonly id: number;
  /** The family's name, e.g. `IPVS`. */
  readonly name: string;
  /** The family's interface version, e.g. 1. */
  readonly version: number;
  /** The highest top-level attribute type the family knows. */
  readonly maxAttribute: number;
}

/** The controller's interface version this module speaks (libnl sends 1 too). */
const CTRL_VERSION = 1;

/**
 * The body of `CTRL_CMD_GETFAMILY` for `name`, sent with type {@linkcode GENL_ID_CTRL}.
 * The kernel answers one `CTRL_CMD_NEWFAMILY`, or ENOENT when no such family is registered
 * (IPVS only is when `ip_vs` is loaded).
 *
 * @example
 * ```ts
 * import { encodeGetFamily } from "./genl.ts";
 * const body = encodeGetFamily("IPVS"); // 03 01 00 00 | 09 00 02 00 "IPVS\0" + 3 pad bytes
 * ```
 */
export function encodeGetFamily(name: string): Uint8Array {
  return encodeGenl(CTRL_CMD.GETFAMILY, CTRL_VERSION, [nulString(CTRL_ATTR.FAMILY_NAME, name)]);
}

/** Decodes the controller's `CTRL_CMD_NEWFAMILY` reply body. */
export function decodeFamily(body: Uint8Array): GenlFamily {
  const message = decodeGenl(body);
  if (message.cmd !== CTRL_CMD.NEWFAMILY) {
    throw new RangeError(`Expected CTRL_CMD_NEWFAMILY (1), got genl command ${message.cmd}`);
  }
  const attrs = parseAttributes(message.attributes);
  return {
    id: readU16(attrs.get(CTRL_ATTR.FAMILY_ID), "CTRL_ATTR_FAMILY_ID"),
    name: readString(attrs.get(CTRL_ATTR.FAMILY_NAME), "CTRL_ATTR_FAMILY_NAME"),
    version: readU32(attrs.get(CTRL_ATTR.VERSION), "CTRL_ATTR_VERSION"),
    maxAttribute: readU32(attrs.get(CTRL_ATTR.MAXATTR), "CTRL_ATTR_MAXATTR"),
  };
}
