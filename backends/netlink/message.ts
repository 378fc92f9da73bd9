/**
 * Netlink messages and attributes as bytes, and back: pure code, no kernel. A message is a
 * 16-byte `nlmsghdr` (length, type, flags, sequence, port id, all host order) and a payload
 * padded to 4 bytes; attributes are `nlattr` TLVs (length, type) padded to 4 bytes, the type's
 * two top bits flagging nested attributes and network byte order.
 *
 * @module
 */

/** `nlmsghdr` message types every protocol shares. */
export const NLMSG_NOOP = 1;
/** An error or, with errno 0, an acknowledgement. */
export const NLMSG_ERROR = 2;
/** The end of a multi-part dump. */
export const NLMSG_DONE = 3;

/** Request flag: every request has it. */
export const NLM_F_REQUEST = 0x1;
/** Reply flag: part of a multi-part reply (a dump), ended by `NLMSG_DONE`. */
export const NLM_F_MULTI = 0x2;
/** Request flag: acknowledge with an `NLMSG_ERROR` of errno 0. */
export const NLM_F_ACK = 0x4;
/** Reply flag: the dump was interrupted by a change and may be inconsistent. */
export const NLM_F_DUMP_INTR = 0x10;
/** GET flag: dump the whole table. */
export const NLM_F_DUMP = 0x300;
/** NEW flag: replace an existing object. */
export const NLM_F_REPLACE = 0x100;
/** NEW flag: fail with EEXIST if the object exists. */
export const NLM_F_EXCL = 0x200;
/** NEW flag: create the object if it does not exist. */
export const NLM_F_CREATE = 0x400;
/** NEW flag: add to the end of a list. */
export const NLM_F_APPEND = 0x800;
/** ACK flag: the error's copy of the request is only its header (`NETLINK_CAP_ACK`). */
export const NLM_F_CAPPED = 0x100;
/** ACK flag: extended-ack attributes follow the request copy (`NETLINK_EXT_ACK`). */
export const NLM_F_ACK_TLVS = 0x200;

/** Attribute type flag: the payload is itself attributes. */
export const NLA_F_NESTED = 0x8000;
/** Attribute type flag: the integer payload is in network byte order. */
export const NLA_F_NET_BYTEORDER = 0x4000;
const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

/** Extended ack attribute: the kernel's error text. */
export const NLMSGERR_ATTR_MSG = 1;

/** The size of `nlmsghdr`. */
export const NLMSG_HDRLEN = 16;
const NLA_HDRLEN = 4;

/** Whether this machine stores integers little-endian (netlink's host order). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Rounds up to netlink's 4-byte alignment. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** One request before the socket numbers it: type, flags and payload (family header + attributes). */
export interface NetlinkRequest {
  /** The message type, e.g. `RTM_NEWADDR` or a generic netlink family id. */
  readonly type: number;
  /** Flags besides `NLM_F_REQUEST` (always set) and `NLM_F_ACK` (set by the socket). */
  readonly flags: number;
  /** The payload: the protocol's fixed header and then attributes. */
  readonly payload: Uint8Array;
}

/** One received message. */
export interface NetlinkMessage {
  /** The message type. */
  readonly type: number;
  /** The flags, e.g. `NLM_F_MULTI`. */
  readonly flags: number;
  /** The sequence number of the request it answers. */
  readonly seq: number;
  /** The sender's port id (0: the kernel). */
  readonly pid: number;
  /** The payload, without the header. */
  readonly payload: Uint8Array;
}

/** Joins byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The wire size of a request's message, padding included. */
export function messageSize(request: NetlinkRequest): number {
  return align4(NLMSG_HDRLEN + request.payload.length);
}

/**
 * Writes one message into `out` at `offset` and returns the offset after it.
 * `flags` is written as given: the caller adds `NLM_F_REQUEST` and `NLM_F_ACK`.
 */
export function writeMessage(
  out: Uint8Array,
  offset: number,
  request: NetlinkRequest,
  header: { flags: number; seq: number; pid: number },
): number {
  const view = new DataView(out.buffer, out.byteOffset + offset);
  const le = HOST_LITTLE_ENDIAN;
  view.setUint32(0, NLMSG_HDRLEN + request.payload.length, le);
  view.setUint16(4, request.type, le);
  view.setUint16(6, header.flags, le);
  view.setUint32(8, header.seq, le);
  view.setUint32(12, header.pid, le);
  out.set(request.payload, offset + NLMSG_HDRLEN);
  return offset + messageSize(request);
}

/** One message as bytes (tests and single requests). */
export function encodeMessage(
  request: NetlinkRequest,
  header: { flags: number; seq: number; pid: number },
): Uint8Array {
  const out = new Uint8Array(messageSize(request));
  writeMessage(out, 0, request, header);
  return out;
}

/** A malformed message or attribute from the kernel (or a fixture). */
export class NetlinkParseError extends Error {
  /** An error saying what was malformed. */
  constructor(message: string) {
    super(`Cannot parse a netlink message: ${message}`);
    this.name = "NetlinkParseError";
  }
}

/** Splits one received datagram into its messages. */
export function parseMessages(bytes: Uint8Array): NetlinkMessage[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = HOST_LITTLE_ENDIAN;
  const messages: NetlinkMessage[] = [];
  let at = 0;
  while (at + NLMSG_HDRLEN <= bytes.length) {
    const length = view.getUint32(at, le);
    if (length < NLMSG_HDRLEN || at + length > bytes.length) {
      throw new NetlinkParseError(`length ${length} at offset ${at} of ${bytes.length} bytes`);
    }
    messages.push({
      type: view.getUint16(at + 4, le),
      flags: view.getUint16(at + 6, le),
      seq: view.getUint32(at + 8, le),
      pid: view.getUint32(at + 12, le),
      payload: bytes.subarray(at + NLMSG_HDRLEN, at + length),
    });
    at += align4(length);
  }
  return messages;
}

/**
 * Whether two byte arrays hold the same bytes: a word at a time where both are aligned (the
 * payloads of received messages are), so comparing a dump of a megabyte with the last one
 * costs a fraction of decoding it.
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let i = 0;
  // Below a few hundred bytes two typed-array views cost more than the bytes they save.
  if (a.length >= 256 && (a.byteOffset & 3) === 0 && (b.byteOffset & 3) === 0) {
    const words = a.length >> 2;
    const x = new Int32Array(a.buffer, a.byteOffset, words);
    const y = new Int32Array(b.buffer, b.byteOffset, words);
    for (; i < words; i++) if (x[i] !== y[i]) return false;
    i = words << 2;
  }
  for (; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether two runs of received messages say the same: the same types and payloads in the same
 * order. Headers are left out (every dump has its own sequence number), so a dump compares
 * equal to the last one exactly when the kernel sent the same objects.
 */
export function sameMessages(
  a: readonly NetlinkMessage[],
  b: readonly NetlinkMessage[],
): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].type !== b[i].type || !sameBytes(a[i].payload, b[i].payload)) return false;
  }
  return true;
}

/** What an `NLMSG_ERROR` says. */
export interface NetlinkErrorReply {
  /** The errno (positive); 0 is an acknowledgement. */
  readonly errno: number;
  /** The sequence number of the request it answers (from the request's copied header). */
  readonly seq: number;
  /** The kernel's extended-ack text, when it sent one. */
  readonly text?: string;
  /**
   * The payload of the request as the error copied it back, when it is not capped; ipset
   * writes the line number of the entry that failed into it (`IPSET_ATTR_LINENO`).
   */
  readonly request?: Uint8Array;
}

/**
 * Decodes an `NLMSG_ERROR` payload: a negative errno (as i32), the request's header (and its
 * payload unless `NLM_F_CAPPED`), then extended-ack attributes when `NLM_F_ACK_TLVS`.
 */
export function parseErrorReply(message: NetlinkMessage): NetlinkErrorReply {
  const p = message.payload;
  if (p.length < 4 + NLMSG_HDRLEN) throw new NetlinkParseError(`error reply of ${p.length} bytes`);
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const le = HOST_LITTLE_ENDIAN;
  const errno = -view.getInt32(0, le) || 0; // never -0
  const seq = view.getUint32(4 + 8, le);
  const capped = (message.flags & NLM_F_CAPPED) !== 0;
  const copied = capped ? NLMSG_HDRLEN : Math.min(view.getUint32(4, le), p.length - 4);
  const request = capped || copied <= NLMSG_HDRLEN
    ? {}
    : { request: p.subarray(4 + NLMSG_HDRLEN, 4 + copied) };
  if ((message.flags & NLM_F_ACK_TLVS) === 0) return { errno, seq, ...request };
  const tlvs = parseAttributes(p.subarray(4 + align4(copied)));
  const text = tlvs.find((a) => a.type === NLMSGERR_ATTR_MSG);
  return text === undefined
    ? { errno, seq, ...request }
    : { errno, seq, text: attrString(text), ...request };
}

/** The errno carried by an `NLMSG_DONE` (0 normally; a dump that failed late sets it). */
export function doneErrno(message: NetlinkMessage): number {
  if (message.payload.length < 4) return 0;
  const p = message.payload;
  return -new DataView(p.buffer, p.byteOffset, 4).getInt32(0, HOST_LITTLE_ENDIAN) || 0;
}

/** One attribute as received. */
export interface Attribute {
  /** The type without the flag bits. */
  readonly type: number;
  /** Whether `NLA_F_NESTED` was set. */
  readonly nested: boolean;
  /** Whether `NLA_F_NET_BYTEORDER` was set. */
  readonly netByteOrder: boolean;
  /** The payload, without header or padding. */
  readonly data: Uint8Array;
}

/** Splits a run of attributes; trailing bytes too short for an attribute are ignored. */
export function parseAttributes(bytes: Uint8Array): Attribute[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = HOST_LITTLE_ENDIAN;
  const attributes: Attribute[] = [];
  let at = 0;
  while (at + NLA_HDRLEN <= bytes.length) {
    const length = view.getUint16(at, le);
    const rawType = view.getUint16(at + 2, le);
    if (length < NLA_HDRLEN || at + length > bytes.length) {
      throw new NetlinkParseError(`attribute length ${length} at offset ${at}`);
    }
    attributes.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      netByteOrder: (rawType & NLA_F_NET_BYTEORDER) !== 0,
      data: bytes.subarray(at + NLA_HDRLEN, at + length),
    });
    at += align4(length);
  }
  return attributes;
}

/** The attributes by type (the last one wins, as the kernel's parser does). */
export function attributeMap(bytes: Uint8Array): Map<number, Attribute> {
  return new Map(parseAttributes(bytes).map((a) => [a.type, a]));
}

function dataView(attribute: Attribute, size: number): DataView {
  if (attribute.data.length < size) {
    throw new NetlinkParseError(
      `attribute ${attribute.type}: ${attribute.data.length} bytes, expected ${size}`,
    );
  }
  const d = attribute.data;
  return new DataView(d.buffer, d.byteOffset, d.byteLength);
}

// An integer attribute is in network order when flagged, else in host order; readers that
// know a field is network order without the flag (IPVS ports) pass `networkOrder`.
function littleEndian(attribute: Attribute, networkOrder: boolean): boolean {
  return networkOrder || attribute.netByteOrder ? false : HOST_LITTLE_ENDIAN;
}

/** A u8 attribute. */
export function attrU8(attribute: Attribute): number {
  return dataView(attribute, 1).getUint8(0);
}

/** A u16 attribute, in network order when flagged so or when `networkOrder`. */
export function attrU16(attribute: Attribute, networkOrder = false): number {
  return dataView(attribute, 2).getUint16(0, littleEndian(attribute, networkOrder));
}

/** A u32 attribute, in network order when flagged so or when `networkOrder`. */
export function attrU32(attribute: Attribute, networkOrder = false): number {
  return dataView(attribute, 4).getUint32(0, littleEndian(attribute, networkOrder));
}

/** A u64 attribute, in network order when flagged so or when `networkOrder`. */
export function attrU64(attribute: Attribute, networkOrder = false): bigint {
  return dataView(attribute, 8).getBigUint64(0, littleEndian(attribute, networkOrder));
}

/** A string attribute, up to its first NUL. */
export function attrString(attribute: Attribute): string {
  const end = attribute.data.indexOf(0);
  return new TextDecoder().decode(end < 0 ? attribute.data : attribute.data.subarray(0, end));
}

/** How an integer attribute is ordered on the wire. */
export interface ByteOrderOption {
  /**
   * Write it in network order and set `NLA_F_NET_BYTEORDER` (`"flagged"`, what ipset wants),
   * in network order without the flag (`"net"`, IPVS ports), or in host order (`"host"`).
   * @default {"host"}
   */
  readonly order?: "host" | "net" | "flagged";
}

/**
 * Builds a run of attributes into one growing buffer (nested attributes are written in place
 * and their length patched after), so thousands of entries cost no per-attribute allocation.
 * Each method appends one attribute and returns the builder.
 *
 * @example
 * ```ts
 * const bytes = new AttributeWriter().string(1, "KUBE-CLUSTER-IP").u8(2, 6).bytes();
 * // 0x14 0x00 0x01 0x00 "KUBE-CLUSTER-IP\0", then 0x05 0x00 0x02 0x00 0x06 0 0 0
 * ```
 */
export class AttributeWriter {
  #buffer = new Uint8Array(256);
  #view = new DataView(this.#buffer.buffer);
  #length = 0;

  /** Room for `size` more bytes (zero-filled, so padding needs no writing). */
  #reserve(size: number): void {
    if (this.#length + size <= this.#buffer.length) return;
    let capacity = this.#buffer.length * 2;
    while (capacity < this.#length + size) capacity *= 2;
    const bigger = new Uint8Array(capacity);
    bigger.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = bigger;
    this.#view = new DataView(bigger.buffer);
  }

  /** Writes a header for `size` payload bytes; returns the payload's offset. */
  #header(type: number, size: number): number {
    const total = align4(NLA_HDRLEN + size);
    this.#reserve(total);
    const at = this.#length;
    this.#view.setUint16(at, NLA_HDRLEN + size, HOST_LITTLE_ENDIAN);
    this.#view.setUint16(at + 2, type, HOST_LITTLE_ENDIAN);
    this.#length += total;
    return at + NLA_HDRLEN;
  }

  #le(order: ByteOrderOption["order"]): boolean {
    return order === "host" || order === undefined ? HOST_LITTLE_ENDIAN : false;
  }

  #type(type: number, order: ByteOrderOption["order"]): number {
    return order === "flagged" ? type | NLA_F_NET_BYTEORDER : type;
  }

  /** A u8 attribute. */
  u8(type: number, value: number): this {
    const at = this.#header(type, 1); // first: it may replace the buffer
    this.#buffer[at] = value;
    return this;
  }

  /** A u16 attribute. */
  u16(type: number, value: number, options: ByteOrderOption = {}): this {
    const at = this.#header(this.#type(type, options.order), 2);
    this.#view.setUint16(at, value, this.#le(options.order));
    return this;
  }

  /** A u32 attribute. */
  u32(type: number, value: number, options: ByteOrderOption = {}): this {
    const at = this.#header(this.#type(type, options.order), 4);
    this.#view.setUint32(at, value >>> 0, this.#le(options.order));
    return this;
  }

  /** A u64 attribute. */
  u64(type: number, value: bigint, options: ByteOrderOption = {}): this {
    const at = this.#header(this.#type(type, options.order), 8);
    this.#view.setBigUint64(at, value, this.#le(options.order));
    return this;
  }

  /** A NUL-terminated string attribute. */
  string(type: number, value: string): this {
    const text = new TextEncoder().encode(value);
    const at = this.#header(type, text.length + 1);
    this.#buffer.set(text, at);
    return this;
  }

  /** An attribute with raw bytes (addresses, structs). */
  binary(type: number, data: Uint8Array | readonly number[]): this {
    const at = this.#header(type, data.length);
    this.#buffer.set(data, at);
    return this;
  }

  /** An attribute with no payload (a flag). */
  flag(type: number): this {
    this.#header(type, 0);
    return this;
  }

  /**
   * Appends bytes an encoder writes straight into the buffer: room for `maxSize` bytes is
   * made, `encode` writes them at `at` (padding included) and returns how many it wrote, a
   * multiple of 4 and at most `maxSize`, or -1 to append nothing. For encoders that know a
   * hot shape's layout (ipset entries, tens of thousands per sync) and skip the per-attribute
   * calls. What it wrote past the returned length is cleared again (the padding of later
   * attributes relies on zeros).
   */
  append(
    maxSize: number,
    encode: (buffer: Uint8Array, view: DataView, at: number) => number,
  ): number {
    this.#reserve(maxSize);
    const at = this.#length;
    const written = encode(this.#buffer, this.#view, at);
    const kept = written > 0 ? written : 0;
    this.#buffer.fill(0, at + kept, at + maxSize);
    this.#length += kept;
    return written;
  }

  /** A nested attribute (`NLA_F_NESTED` set) whose content `fill` writes (into this builder). */
  nested(type: number, fill: (inner: AttributeWriter) => void): this {
    const at = this.#header(type | NLA_F_NESTED, 0);
    fill(this);
    this.#view.setUint16(at - NLA_HDRLEN, this.#length - (at - NLA_HDRLEN), HOST_LITTLE_ENDIAN);
    return this;
  }

  /** The size in bytes so far. */
  get length(): number {
    return this.#length;
  }

  /** The attributes as bytes (a copy). */
  bytes(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }
}
