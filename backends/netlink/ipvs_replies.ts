/**
 * The kernel's IPVS replies, decoded into the project's `VirtualServer` and `RealServer`
 * exactly as the exec backend reads them from `ipvsadm -Sn` and `-Ln`, and GET_INFO and
 * GET_CONFIG. What the kernel sends (`ip_vs_genl_fill_service`, `_fill_dest`): a NEW_SERVICE
 * or NEW_DEST message per object with one nest of attributes, stats nests included (skipped).
 * Each decoder walks the attributes once into a reused table of offsets, allocating nothing but
 * its result: a read decodes one message per real server.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import type { Protocol } from "../../src/cluster/types.ts";
import type { RealServer, VirtualServer } from "../../src/state/types.ts";
import { GENL_HEADER_SIZE } from "./genl.ts";
import {
  IP_VS_SVC_F,
  IPVS_CMD,
  IPVS_CMD_ATTR,
  IPVS_DEST_ATTR,
  IPVS_INFO_ATTR,
  IPVS_SVC_ATTR,
  type IpvsTimeouts,
  schedulerFlagNames,
} from "./ipvs_messages.ts";
import { HOST_LITTLE_ENDIAN } from "./message.ts";

/** A kernel reply did not have the shape `linux/ip_vs.h` describes. */
export class IpvsDecodeError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(`Cannot decode an IPVS netlink reply: ${message}`, options);
    this.name = "IpvsDecodeError";
  }
}

const AF_INET = 2;
const AF_INET6 = 10;
const PROTOCOL_OF = new Map<number, Protocol>([[6, "tcp"], [17, "udp"], [132, "sctp"]]);
/** Offsets start at 0, so a missing attribute is -1. */
const MISSING = -1;
const NLA_TYPE_MASK = 0x3fff;

/**
 * Where each attribute of one level starts in the reply (-1: absent), by type. Decoding is
 * synchronous and never nested deeper than two levels, so each level reuses one table.
 */
class Offsets {
  readonly start: Int32Array;
  readonly length: Int32Array;
  constructor(size: number) {
    this.start = new Int32Array(size);
    this.length = new Int32Array(size);
  }
}

const LEVELS = [new Offsets(16), new Offsets(16)];

/** A reply's bytes with the one DataView every read goes through. */
class Reply {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The offsets of the attributes from `start` to `end` (types below 16), in table `depth`. */
  level(start: number, end: number, depth: 0 | 1): Offsets {
    const offsets = LEVELS[depth];
    offsets.start.fill(MISSING);
    const view = this.view;
    let at = start;
    while (at + 4 <= end) {
      const length = view.getUint16(at, HOST_LITTLE_ENDIAN);
      if (length < 4 || at + length > end) {
        throw new IpvsDecodeError(`${this.what}: attribute length ${length} at offset ${at}`);
      }
      const type = view.getUint16(at + 2, HOST_LITTLE_ENDIAN) & NLA_TYPE_MASK;
      if (type < 16) {
        offsets.start[type] = at + 4;
        offsets.length[type] = length - 4;
      }
      at += (length + 3) & ~3;
    }
    return offsets;
  }

  #at(offsets: Offsets, type: number, size: number, name: string): number {
    const at = offsets.start[type];
    if (at === MISSING || offsets.length[type] < size) {
      throw new IpvsDecodeError(`${this.what} has no ${name}`);
    }
    return at;
  }

  u16(offsets: Offsets, type: number, name: string, networkOrder = false): number {
    const at = this.#at(offsets, type, 2, name);
    return this.view.getUint16(at, networkOrder ? false : HOST_LITTLE_ENDIAN);
  }

  u32(offsets: Offsets, type: number, name: string): number {
    return this.view.getUint32(this.#at(offsets, type, 4, name), HOST_LITTLE_ENDIAN);
  }

  string(offsets: Offsets, type: number, name: string): string {
    const at = this.#at(offsets, type, 0, name);
    let end = at;
    const limit = at + offsets.length[type];
    while (end < limit && this.bytes[end] !== 0) end++;
    return String.fromCharCode(...this.bytes.subarray(at, end));
  }

  address(offsets: Offsets, type: number, af: number): string {
    const size = af === AF_INET ? 4 : af === AF_INET6 ? 16 : 0;
    if (size === 0) throw new IpvsDecodeError(`${this.what} has address family ${af}`);
    const at = this.#at(offsets, type, size, `${size}-byte address`);
    const b = this.bytes;
    if (af === AF_INET) return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
    return ipaddr.fromByteArray([...b.subarray(at, at + 16)]).toString();
  }

  /** The nest of type `type` at the top level of a reply of command `cmd`, as offsets. */
  nest(cmd: number, type: number, name: string): Offsets {
    if (this.bytes.length < GENL_HEADER_SIZE) {
      throw new IpvsDecodeError(`${this.what}: ${this.bytes.length} bytes, no genl header`);
    }
    if (this.bytes[0] !== cmd) {
      throw new IpvsDecodeError(`expected ${this.what} (command ${cmd}), got ${this.bytes[0]}`);
    }
    const top = this.level(GENL_HEADER_SIZE, this.bytes.length, 0);
    const at = this.#at(top, type, 0, name);
    return this.level(at, at + top.length[type], 1);
  }

  /** The top level of a reply of command `cmd`, as offsets. */
  top(cmd: number): Offsets {
    if (this.bytes.length < GENL_HEADER_SIZE || this.bytes[0] !== cmd) {
      throw new IpvsDecodeError(`expected ${this.what} (command ${cmd}), got ${this.bytes[0]}`);
    }
    return this.level(GENL_HEADER_SIZE, this.bytes.length, 0);
  }
}

/**
 * One message of the GET_SERVICE dump (`IPVS_CMD_NEW_SERVICE`) as the exec backend reads
 * its `ipvsadm -Sn` line: `-A -t 10.0.0.1:443 -s rr -p 10800 -b mh-port` gives scheduler,
 * persistence timeout (only when persistent) and the scheduler flags by name; netmask,
 * one-packet scheduling and the persistence engine are not modelled. A firewall-mark
 * service is not ours and gives `undefined`, as the exec read skips `-A -f` lines.
 * The real servers come from the GET_DEST dump and start empty.
 */
export function decodeService(payload: Uint8Array): VirtualServer | undefined {
  const reply = new Reply(payload, "a GET_SERVICE reply");
  const attrs = reply.nest(IPVS_CMD.NEW_SERVICE, IPVS_CMD_ATTR.SERVICE, "IPVS_CMD_ATTR_SERVICE");
  const isFwmark = attrs.start[IPVS_SVC_ATTR.FWMARK] !== MISSING;
  if (isFwmark && attrs.start[IPVS_SVC_ATTR.ADDR] === MISSING) return undefined;
  const number = reply.u16(attrs, IPVS_SVC_ATTR.PROTOCOL, "IPVS_SVC_ATTR_PROTOCOL");
  const protocol = PROTOCOL_OF.get(number);
  if (protocol === undefined) {
    throw new IpvsDecodeError(`a service has protocol ${number}, not TCP, UDP or SCTP`);
  }
  const af = reply.u16(attrs, IPVS_SVC_ATTR.AF, "IPVS_SVC_ATTR_AF");
  const scheduler = reply.string(attrs, IPVS_SVC_ATTR.SCHED_NAME, "IPVS_SVC_ATTR_SCHED_NAME");
  // struct ip_vs_flags: the flags first, then the mask.
  const flags = reply.u32(attrs, IPVS_SVC_ATTR.FLAGS, "IPVS_SVC_ATTR_FLAGS");
  const timeout = reply.u32(attrs, IPVS_SVC_ATTR.TIMEOUT, "IPVS_SVC_ATTR_TIMEOUT");
  return {
    protocol,
    address: reply.address(attrs, IPVS_SVC_ATTR.ADDR, af),
    port: reply.u16(attrs, IPVS_SVC_ATTR.PORT, "IPVS_SVC_ATTR_PORT", true),
    scheduler,
    persistenceTimeout: (flags & IP_VS_SVC_F.PERSISTENT) !== 0 ? timeout : 0,
    flags: schedulerFlagNames(scheduler, flags),
    service: "",
    realServers: [],
  };
}

// ipvsadm's fwd_switch: -m for NAT, -g for direct routing and local node, -i for tunnels.
const FORWARD_NAME = ["masq", "route", "tunnel", "route"];

/**
 * One message of the GET_DEST dump (`IPVS_CMD_NEW_DEST`) as the exec backend reads it:
 * `-a -t 10.0.0.1:443 -r 192.168.0.1:6443 -m -w 1` with ActiveConn and InActConn from
 * `  -> 192.168.0.1:6443  Masq  1  1  0`. The address family is the destination's own when
 * the kernel names it, else the service's (`serviceIsV6`).
 */
export function decodeDestination(payload: Uint8Array, serviceIsV6: boolean): RealServer {
  return fastDestination(payload, serviceIsV6) ?? slowDestination(payload, serviceIsV6);
}

/** The DataView over the last reply buffer seen: a dump's messages share their datagram's. */
let lastBuffer: ArrayBufferLike | undefined;
let lastView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
let lastBytes: Uint8Array<ArrayBufferLike> = new Uint8Array(0);

/**
 * `decodeDestination` for a well-formed reply, or `undefined` for anything else (then the
 * slow decoder below reads it again and throws the error that names what is wrong). A read
 * decodes one of these per real server: no DataView, table or object but the result is made
 * per message, which under the VM's TCG made the decode 2-5 times faster.
 */
function fastDestination(payload: Uint8Array, serviceIsV6: boolean): RealServer | undefined {
  if (payload.length < GENL_HEADER_SIZE || payload[0] !== IPVS_CMD.NEW_DEST) return undefined;
  if (payload.buffer !== lastBuffer) {
    lastBuffer = payload.buffer;
    lastView = new DataView(payload.buffer);
    lastBytes = new Uint8Array(payload.buffer);
  }
  const view = lastView;
  const le = HOST_LITTLE_ENDIAN;
  const end = payload.byteOffset + payload.length;
  // The top level: the one nest of the destination's attributes.
  let nestStart = MISSING;
  let nestEnd = MISSING;
  for (let at = payload.byteOffset + GENL_HEADER_SIZE; at + 4 <= end;) {
    const length = view.getUint16(at, le);
    if (length < 4 || at + length > end) return undefined;
    if ((view.getUint16(at + 2, le) & NLA_TYPE_MASK) === IPVS_CMD_ATTR.DEST) {
      nestStart = at + 4;
      nestEnd = at + length;
    }
    at += (length + 3) & ~3;
  }
  if (nestStart === MISSING) return undefined;
  let address = MISSING, addressLength = 0, port = MISSING, method = MISSING, weight = MISSING;
  let active = MISSING, inactive = MISSING, family = MISSING;
  for (let at = nestStart; at + 4 <= nestEnd;) {
    const length = view.getUint16(at, le);
    if (length < 4 || at + length > nestEnd) return undefined;
    const value = length - 4;
    // Too short a value is left MISSING: the slow decoder names it.
    switch (view.getUint16(at + 2, le) & NLA_TYPE_MASK) {
      case IPVS_DEST_ATTR.ADDR:
        address = at + 4;
        addressLength = value;
        break;
      case IPVS_DEST_ATTR.PORT:
        port = value >= 2 ? at + 4 : MISSING;
        break;
      case IPVS_DEST_ATTR.FWD_METHOD:
        method = value >= 4 ? at + 4 : MISSING;
        break;
      case IPVS_DEST_ATTR.WEIGHT:
        weight = value >= 4 ? at + 4 : MISSING;
        break;
      case IPVS_DEST_ATTR.ACTIVE_CONNS:
        active = value >= 4 ? at + 4 : MISSING;
        break;
      case IPVS_DEST_ATTR.INACT_CONNS:
        inactive = value >= 4 ? at + 4 : MISSING;
        break;
      case IPVS_DEST_ATTR.ADDR_FAMILY:
        family = value >= 2 ? at + 4 : MISSING;
        break;
    }
    at += (length + 3) & ~3;
  }
  if (
    address === MISSING || port === MISSING || method === MISSING || weight === MISSING ||
    active === MISSING || inactive === MISSING
  ) return undefined;
  const af = family !== MISSING ? view.getUint16(family, le) : (serviceIsV6 ? AF_INET6 : AF_INET);
  const forward = FORWARD_NAME[view.getUint32(method, le) & 7];
  if (forward === undefined) return undefined;
  const b = lastBytes;
  let text: string;
  if (af === AF_INET && addressLength >= 4) {
    text = `${b[address]}.${b[address + 1]}.${b[address + 2]}.${b[address + 3]}`;
  } else if (af === AF_INET6 && addressLength >= 16) {
    text = ipaddr.fromByteArray([...b.subarray(address, address + 16)]).toString();
  } else return undefined;
  return {
    address: text,
    port: view.getUint16(port, false),
    forward: forward as RealServer["forward"],
    weight: view.getUint32(weight, le) | 0,
    activeConnections: view.getUint32(active, le),
    inactiveConnections: view.getUint32(inactive, le),
  };
}

/** `decodeDestination` through the general decoder, which throws naming what is wrong. */
function slowDestination(payload: Uint8Array, serviceIsV6: boolean): RealServer {
  const reply = new Reply(payload, "a GET_DEST reply");
  const attrs = reply.nest(IPVS_CMD.NEW_DEST, IPVS_CMD_ATTR.DEST, "IPVS_CMD_ATTR_DEST");
  const af = attrs.start[IPVS_DEST_ATTR.ADDR_FAMILY] !== MISSING
    ? reply.u16(attrs, IPVS_DEST_ATTR.ADDR_FAMILY, "IPVS_DEST_ATTR_ADDR_FAMILY")
    : (serviceIsV6 ? AF_INET6 : AF_INET);
  const method = reply.u32(attrs, IPVS_DEST_ATTR.FWD_METHOD, "IPVS_DEST_ATTR_FWD_METHOD") & 7;
  const forward = FORWARD_NAME[method];
  if (forward === undefined) {
    throw new IpvsDecodeError(`a destination has forwarding method ${method}`);
  }
  return {
    address: reply.address(attrs, IPVS_DEST_ATTR.ADDR, af),
    port: reply.u16(attrs, IPVS_DEST_ATTR.PORT, "IPVS_DEST_ATTR_PORT", true),
    // The state types name only "masq"; other methods are reported as read, like the exec read.
    forward: forward as RealServer["forward"],
    weight: reply.u32(attrs, IPVS_DEST_ATTR.WEIGHT, "IPVS_DEST_ATTR_WEIGHT") | 0,
    activeConnections: reply.u32(attrs, IPVS_DEST_ATTR.ACTIVE_CONNS, "IPVS_DEST_ATTR_ACTIVE_CONNS"),
    inactiveConnections: reply.u32(
      attrs,
      IPVS_DEST_ATTR.INACT_CONNS,
      "IPVS_DEST_ATTR_INACT_CONNS",
    ),
  };
}

/** What GET_INFO says, as `ipvsadm -Ln`'s title prints it: `IP Virtual Server version 1.2.1 (size=4096)`. */
export interface IpvsInfo {
  /** The version as ipvsadm prints it, e.g. `1.2.1`. */
  readonly version: string;
  /** The version number, e.g. `0x010201`. */
  readonly versionCode: number;
  /** The connection hash table's size, e.g. 4096. */
  readonly tableSize: number;
}

/** Decodes the GET_INFO reply (`IPVS_CMD_SET_INFO`). */
export function decodeInfo(payload: Uint8Array): IpvsInfo {
  const reply = new Reply(payload, "a GET_INFO reply");
  const attrs = reply.top(IPVS_CMD.SET_INFO);
  const code = reply.u32(attrs, IPVS_INFO_ATTR.VERSION, "IPVS_INFO_ATTR_VERSION");
  return {
    version: `${(code >> 16) & 0xff}.${(code >> 8) & 0xff}.${code & 0xff}`,
    versionCode: code,
    tableSize: reply.u32(attrs, IPVS_INFO_ATTR.CONN_TAB_SIZE, "IPVS_INFO_ATTR_CONN_TAB_SIZE"),
  };
}

/** Decodes the GET_CONFIG reply (`IPVS_CMD_SET_CONFIG`): `ipvsadm -L --timeout`'s three numbers. */
export function decodeTimeouts(payload: Uint8Array): IpvsTimeouts {
  const reply = new Reply(payload, "a GET_CONFIG reply");
  const attrs = reply.top(IPVS_CMD.SET_CONFIG);
  return {
    tcp: reply.u32(attrs, IPVS_CMD_ATTR.TIMEOUT_TCP, "IPVS_CMD_ATTR_TIMEOUT_TCP"),
    tcpFin: reply.u32(attrs, IPVS_CMD_ATTR.TIMEOUT_TCP_FIN, "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN"),
    udp: reply.u32(attrs, IPVS_CMD_ATTR.TIMEOUT_UDP, "IPVS_CMD_ATTR_TIMEOUT_UDP"),
  };
}
