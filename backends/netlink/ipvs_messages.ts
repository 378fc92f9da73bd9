/**
 * IPVS over generic netlink, without a socket: the message bodies for each IPVS operation of a
 * plan and for the reads (service and destination dumps, GET_INFO, GET_CONFIG), and the
 * decoders that turn the kernel's replies into the project's `VirtualServer` and `RealServer`
 * exactly as the exec backend reads them from `ipvsadm -Sn` and `-Ln`.
 *
 * Facts from `linux/ip_vs.h` and `net/netfilter/ipvs/ip_vs_ctl.c` (REFERENCE section 7): the
 * family is "IPVS", version 1, with no family header; services and destinations are nested
 * attributes; AF, PROTOCOL and the u32 values are in host order, ports are network-order u16
 * without NLA_F_NET_BYTEORDER, addresses are 16 bytes (`union nf_inet_addr`). NEW/SET_SERVICE
 * need SCHED_NAME, FLAGS (flags and mask), TIMEOUT and NETMASK; NEW/SET_DEST need FWD_METHOD,
 * WEIGHT and both thresholds. This module sends what ipvsadm's libipvs sends.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import type { Protocol } from "../../src/cluster/types.ts";
import type { VirtualServerKey, VirtualServerSpec } from "../../src/plan/types.ts";
import type { IpvsOperation } from "../../src/render/ipvsadm.ts";
import type { RealServer, VirtualServer } from "../../src/state/types.ts";
import { hostPort } from "../../src/state/keys.ts";
import { decodeGenl, encodeGenl } from "./genl.ts";
import {
  type Attribute,
  attributeMap,
  AttributeWriter,
  attrString,
  attrU16,
  attrU32,
} from "./message.ts";

/** The generic netlink family name of IPVS (`IPVS_GENL_NAME`). */
export const IPVS_FAMILY_NAME = "IPVS";
/** The interface version every IPVS message carries (`IPVS_GENL_VERSION`). */
export const IPVS_GENL_VERSION = 1;

/** IPVS commands (`IPVS_CMD_*`); replies to GET_* dumps carry NEW_*, GET_INFO's SET_INFO. */
export const IPVS_CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  FLUSH: 17,
} as const;

/** Top-level attributes (`IPVS_CMD_ATTR_*`). */
export const IPVS_CMD_ATTR = {
  SERVICE: 1,
  DEST: 2,
  TIMEOUT_TCP: 4,
  TIMEOUT_TCP_FIN: 5,
  TIMEOUT_UDP: 6,
} as const;

/** Attributes inside `IPVS_CMD_ATTR_SERVICE` (`IPVS_SVC_ATTR_*`). */
export const IPVS_SVC_ATTR = {
  AF: 1,
  PROTOCOL: 2,
  ADDR: 3,
  PORT: 4,
  FWMARK: 5,
  SCHED_NAME: 6,
  FLAGS: 7,
  TIMEOUT: 8,
  NETMASK: 9,
} as const;

/** Attributes inside `IPVS_CMD_ATTR_DEST` (`IPVS_DEST_ATTR_*`). */
export const IPVS_DEST_ATTR = {
  ADDR: 1,
  PORT: 2,
  FWD_METHOD: 3,
  WEIGHT: 4,
  U_THRESH: 5,
  L_THRESH: 6,
  ACTIVE_CONNS: 7,
  INACT_CONNS: 8,
  ADDR_FAMILY: 11,
} as const;

/** Attributes of the GET_INFO reply (`IPVS_INFO_ATTR_*`). */
export const IPVS_INFO_ATTR = { VERSION: 1, CONN_TAB_SIZE: 2 } as const;

/** Service flags (`IP_VS_SVC_F_*`). */
export const IP_VS_SVC_F = {
  PERSISTENT: 0x1,
  ONEPACKET: 0x4,
  SCHED1: 0x8,
  SCHED2: 0x10,
  SCHED3: 0x20,
} as const;

/** Forwarding methods (`IP_VS_CONN_F_*` within `IP_VS_CONN_F_FWD_MASK`). */
const FWD = { MASQ: 0, LOCALNODE: 1, TUNNEL: 2, DROUTE: 3 } as const;

const AF_INET = 2;
const AF_INET6 = 10;
const PROTOCOL_NUMBER: Record<Protocol, number> = { tcp: 6, udp: 17, sctp: 132 };
const PROTOCOL_OF = new Map<number, Protocol>([[6, "tcp"], [17, "udp"], [132, "sctp"]]);
/** `IP_VS_SCHEDNAME_MAXLEN` is 16 with the NUL. */
const MAX_SCHEDULER_LENGTH = 15;

/** An IPVS message could not be built from the values given; nothing was sent. */
export class IpvsEncodeError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "IpvsEncodeError";
  }
}

/** A kernel reply did not have the shape `linux/ip_vs.h` describes. */
export class IpvsDecodeError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(`Cannot decode an IPVS netlink reply: ${message}`, options);
    this.name = "IpvsDecodeError";
  }
}

// ---- scheduler flags, by ipvsadm's names ----

/** The flag bit of each `-b` name, and the scheduler a name needs (ipvsadm's `parse_sched_flags`). */
const FLAG_BITS: Record<string, { bit: number; scheduler?: string }> = {
  "flag-1": { bit: IP_VS_SVC_F.SCHED1 },
  "flag-2": { bit: IP_VS_SVC_F.SCHED2 },
  "flag-3": { bit: IP_VS_SVC_F.SCHED3 },
  "sh-fallback": { bit: IP_VS_SVC_F.SCHED1, scheduler: "sh" },
  "sh-port": { bit: IP_VS_SVC_F.SCHED2, scheduler: "sh" },
  "mh-fallback": { bit: IP_VS_SVC_F.SCHED1, scheduler: "mh" },
  "mh-port": { bit: IP_VS_SVC_F.SCHED2, scheduler: "mh" },
};

/**
 * The service flags for a virtual server's settings, as `ipvsadm -A/-E ... -p N -b NAMES`
 * sets them: PERSISTENT with a timeout, and the scheduler flags, refused where ipvsadm
 * refuses them (`mh-port` needs the `mh` scheduler).
 */
export function serviceFlags(
  vs: Pick<VirtualServerSpec, "scheduler" | "persistenceTimeout" | "flags">,
): number {
  let flags = vs.persistenceTimeout > 0 ? IP_VS_SVC_F.PERSISTENT : 0;
  for (const name of vs.flags) {
    const known = FLAG_BITS[name];
    if (known === undefined) {
      throw new IpvsEncodeError(`invalid scheduler flag ${JSON.stringify(name)}`);
    }
    if (known.scheduler !== undefined && known.scheduler !== vs.scheduler) {
      throw new IpvsEncodeError(
        `incompatible scheduler flag ${JSON.stringify(name)} (needs scheduler ${known.scheduler})`,
      );
    }
    flags |= known.bit;
  }
  return flags;
}

/** The scheduler flags' names as `ipvsadm -Sn` prints them after `-b` (`print_sched_flags`). */
export function schedulerFlagNames(scheduler: string, flags: number): string[] {
  const names: [number, string][] = scheduler === "sh" || scheduler === "mh"
    ? [[IP_VS_SVC_F.SCHED1, `${scheduler}-fallback`], [IP_VS_SVC_F.SCHED2, `${scheduler}-port`]]
    : [[IP_VS_SVC_F.SCHED1, "flag-1"], [IP_VS_SVC_F.SCHED2, "flag-2"], [
      IP_VS_SVC_F.SCHED3,
      "flag-3",
    ]];
  return names.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
}

// ---- encoding ----

function checkPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new IpvsEncodeError(`${what} port ${port} is not an integer from 0 to 65535`);
  }
  return port;
}

/** The address family and the 16 bytes of `union nf_inet_addr` for a canonical address. */
function addressBytes(address: string, what: string): { af: number; bytes: Uint8Array } {
  // Four dotted decimals only: ipaddr.isValid also takes the legacy "10.0.0" and "0x0a.0.0.1".
  if (!ipaddr.IPv4.isValidFourPartDecimal(address) && !ipaddr.IPv6.isValid(address)) {
    throw new IpvsEncodeError(`${what} address ${JSON.stringify(address)} is not an IP address`);
  }
  const parsed = ipaddr.parse(address);
  const bytes = new Uint8Array(16);
  bytes.set(parsed.toByteArray());
  return { af: parsed.kind() === "ipv6" ? AF_INET6 : AF_INET, bytes };
}

/** Writes the attributes that name a virtual server (all DEL and the dest commands need). */
function writeServiceKey(out: AttributeWriter, vs: VirtualServerKey): void {
  const { af, bytes } = addressBytes(vs.address, "virtual server");
  const protocol = PROTOCOL_NUMBER[vs.protocol];
  if (protocol === undefined) {
    throw new IpvsEncodeError(`unknown virtual server protocol ${JSON.stringify(vs.protocol)}`);
  }
  out.u16(IPVS_SVC_ATTR.AF, af)
    .u16(IPVS_SVC_ATTR.PROTOCOL, protocol)
    .binary(IPVS_SVC_ATTR.ADDR, bytes)
    .u16(IPVS_SVC_ATTR.PORT, checkPort(vs.port, "virtual server"), { order: "net" });
}

function flagsValue(flags: number): Uint8Array {
  // struct ip_vs_flags { flags, mask }: a mask of all ones replaces every flag, as ipvsadm does.
  const data = new Uint8Array(8);
  const view = new DataView(data.buffer);
  view.setUint32(0, flags >>> 0, true);
  view.setUint32(4, 0xffffffff, true);
  return data;
}

/** Writes a virtual server's whole settings, for NEW_SERVICE and SET_SERVICE. */
function writeServiceSpec(out: AttributeWriter, vs: VirtualServerSpec): void {
  if (vs.scheduler === "" || vs.scheduler.length > MAX_SCHEDULER_LENGTH) {
    throw new IpvsEncodeError(
      `scheduler ${JSON.stringify(vs.scheduler)} must have 1 to ${MAX_SCHEDULER_LENGTH} characters`,
    );
  }
  const timeout = vs.persistenceTimeout;
  if (!Number.isInteger(timeout) || timeout < 0 || timeout > 0xffffffff) {
    throw new IpvsEncodeError(`persistence timeout ${timeout} is not a u32`);
  }
  const flags = serviceFlags(vs);
  writeServiceKey(out, vs);
  // The persistence granularity ipvsadm defaults to: one client address (/32, or /128 for v6).
  const netmask = vs.address.includes(":") ? 128 : 0xffffffff;
  out.string(IPVS_SVC_ATTR.SCHED_NAME, vs.scheduler)
    .binary(IPVS_SVC_ATTR.FLAGS, flagsValue(flags))
    .u32(IPVS_SVC_ATTR.TIMEOUT, timeout)
    .u32(IPVS_SVC_ATTR.NETMASK, netmask);
}

function writeDestinationKey(
  out: AttributeWriter,
  rs: Pick<RealServer, "address" | "port">,
): void {
  const { af, bytes } = addressBytes(rs.address, "real server");
  out.u16(IPVS_DEST_ATTR.ADDR_FAMILY, af)
    .binary(IPVS_DEST_ATTR.ADDR, bytes)
    .u16(IPVS_DEST_ATTR.PORT, checkPort(rs.port, "real server"), { order: "net" });
}

const FORWARD_METHOD: Record<string, number> = {
  masq: FWD.MASQ,
  route: FWD.DROUTE,
  tunnel: FWD.TUNNEL,
};

function writeDestination(out: AttributeWriter, rs: RealServer): void {
  const method = FORWARD_METHOD[rs.forward];
  if (method === undefined) {
    throw new IpvsEncodeError(`unknown forward method ${JSON.stringify(rs.forward)}`);
  }
  if (!Number.isInteger(rs.weight) || rs.weight < 0 || rs.weight > 65535) {
    throw new IpvsEncodeError(`real server weight ${rs.weight} is not an integer from 0 to 65535`);
  }
  writeDestinationKey(out, rs);
  out.u32(IPVS_DEST_ATTR.FWD_METHOD, method)
    .u32(IPVS_DEST_ATTR.WEIGHT, rs.weight)
    // No connection limits, as ipvsadm without -x/-y.
    .u32(IPVS_DEST_ATTR.U_THRESH, 0)
    .u32(IPVS_DEST_ATTR.L_THRESH, 0);
}

function body(cmd: number, fill?: (out: AttributeWriter) => void): Uint8Array {
  const out = new AttributeWriter();
  fill?.(out);
  return encodeGenl(cmd, IPVS_GENL_VERSION, out.bytes());
}

type Fill = (out: AttributeWriter) => void;

function service(fill: Fill): Fill {
  return (out) => out.nested(IPVS_CMD_ATTR.SERVICE, fill);
}

function serviceAndDestination(vs: VirtualServerKey, fill: Fill): Fill {
  return (out) => {
    out.nested(IPVS_CMD_ATTR.SERVICE, (inner) => writeServiceKey(inner, vs));
    out.nested(IPVS_CMD_ATTR.DEST, fill);
  };
}

/**
 * The message body that carries out one plan operation, as `ipvsadm --restore` would
 * carry out its line (`-A`, `-E`, `-D`, `-a`, `-e`, `-d`). Throws an
 * {@linkcode IpvsEncodeError} for a value the kernel cannot take.
 *
 * @example
 * ```ts
 * import { encodeIpvsOperation } from "./ipvs_messages.ts";
 * encodeIpvsOperation({
 *   op: "ipvs.deleteVirtualServer",
 *   virtualServer: { protocol: "tcp", address: "10.0.0.1", port: 80 },
 * }); // IPVS_CMD_DEL_SERVICE with AF 2, PROTOCOL 6, ADDR 10.0.0.1, PORT 80
 * ```
 */
export function encodeIpvsOperation(op: IpvsOperation): Uint8Array {
  switch (op.op) {
    case "ipvs.addVirtualServer":
      return body(IPVS_CMD.NEW_SERVICE, service((o) => writeServiceSpec(o, op.virtualServer)));
    case "ipvs.editVirtualServer":
      return body(IPVS_CMD.SET_SERVICE, service((o) => writeServiceSpec(o, op.virtualServer)));
    case "ipvs.deleteVirtualServer":
      return body(IPVS_CMD.DEL_SERVICE, service((o) => writeServiceKey(o, op.virtualServer)));
    case "ipvs.addRealServer":
      return body(
        IPVS_CMD.NEW_DEST,
        serviceAndDestination(op.virtualServer, (o) => writeDestination(o, op.realServer)),
      );
    case "ipvs.editRealServer":
      return body(
        IPVS_CMD.SET_DEST,
        serviceAndDestination(op.virtualServer, (o) => writeDestination(o, op.realServer)),
      );
    case "ipvs.deleteRealServer":
      return body(
        IPVS_CMD.DEL_DEST,
        serviceAndDestination(op.virtualServer, (o) => writeDestinationKey(o, op.realServer)),
      );
  }
}

/** The body of the GET_SERVICE dump request (send with NLM_F_DUMP): every service. */
export function encodeGetServices(): Uint8Array {
  return body(IPVS_CMD.GET_SERVICE);
}

/** The body of the GET_DEST dump request (send with NLM_F_DUMP): one service's destinations. */
export function encodeGetDestinations(vs: VirtualServerKey): Uint8Array {
  return body(IPVS_CMD.GET_DEST, service((o) => writeServiceKey(o, vs)));
}

/** The body of GET_INFO: the IPVS version and the connection table's size. */
export function encodeGetInfo(): Uint8Array {
  return body(IPVS_CMD.GET_INFO);
}

/** The body of GET_CONFIG: the three timeouts. */
export function encodeGetConfig(): Uint8Array {
  return body(IPVS_CMD.GET_CONFIG);
}

/** The body of FLUSH: delete every service and destination (`ipvsadm -C`). */
export function encodeFlush(): Uint8Array {
  return body(IPVS_CMD.FLUSH);
}

/** IPVS connection timeouts in seconds, as `ipvsadm --set tcp tcpfin udp` takes them. */
export interface IpvsTimeouts {
  /** Established TCP connections. */
  readonly tcp: number;
  /** TCP connections after FIN. */
  readonly tcpFin: number;
  /** UDP. */
  readonly udp: number;
}

/**
 * The body of SET_CONFIG, like `ipvsadm --set`: the kernel leaves a timeout of 0 as it is,
 * so each is sent and 0 keeps the current value.
 */
export function encodeSetTimeouts(timeouts: IpvsTimeouts): Uint8Array {
  const values = [timeouts.tcp, timeouts.tcpFin, timeouts.udp];
  for (const value of values) {
    if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
      throw new IpvsEncodeError(`IPVS timeout ${value} is not a number of seconds`);
    }
  }
  return body(IPVS_CMD.SET_CONFIG, (out) =>
    out.u32(IPVS_CMD_ATTR.TIMEOUT_TCP, timeouts.tcp)
      .u32(IPVS_CMD_ATTR.TIMEOUT_TCP_FIN, timeouts.tcpFin)
      .u32(IPVS_CMD_ATTR.TIMEOUT_UDP, timeouts.udp));
}

// ---- decoding ----

/** The attributes of one reply level, read by name so a missing one says which it was. */
class Fields {
  constructor(readonly attrs: Map<number, Attribute>, readonly where: string) {}
  #get(type: number, name: string): Attribute {
    const attr = this.attrs.get(type);
    if (attr === undefined) throw new IpvsDecodeError(`${this.where} has no ${name}`);
    return attr;
  }
  has(type: number): boolean {
    return this.attrs.has(type);
  }
  raw(type: number): Uint8Array | undefined {
    return this.attrs.get(type)?.data;
  }
  u16(type: number, name: string, networkOrder = false): number {
    return attrU16(this.#get(type, name), networkOrder);
  }
  u32(type: number, name: string): number {
    return attrU32(this.#get(type, name));
  }
  string(type: number, name: string): string {
    return attrString(this.#get(type, name));
  }
  nested(type: number, name: string, where: string): Fields {
    return new Fields(attributeMap(this.#get(type, name).data), where);
  }
}

/** The top-level attributes of a reply of command `cmd`; anything malformed is a decode error. */
function decodeTopLevel(reply: Uint8Array, cmd: number, what: string): Fields {
  const message = guarded(what, () => decodeGenl(reply));
  if (message.cmd !== cmd) {
    throw new IpvsDecodeError(`expected ${what} (command ${cmd}), got command ${message.cmd}`);
  }
  return guarded(what, () => new Fields(attributeMap(message.attributes), what));
}

function decodeAddress(af: number, data: Uint8Array | undefined, what: string): string {
  const size = af === AF_INET ? 4 : af === AF_INET6 ? 16 : 0;
  if (size === 0) throw new IpvsDecodeError(`${what} has address family ${af}`);
  if (data === undefined || data.length < size) {
    throw new IpvsDecodeError(`${what} has no ${size}-byte address`);
  }
  return ipaddr.fromByteArray([...data.subarray(0, size)]).toString();
}

/** Runs `read`, turning a parse error of the shared codec into an {@linkcode IpvsDecodeError}. */
function guarded<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof IpvsDecodeError) throw error;
    throw new IpvsDecodeError(`${what}: ${(error as Error).message}`, { cause: error });
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
export function decodeService(reply: Uint8Array): VirtualServer | undefined {
  const top = decodeTopLevel(reply, IPVS_CMD.NEW_SERVICE, "a GET_SERVICE reply");
  return guarded("a service", () => {
    const attrs = top.nested(IPVS_CMD_ATTR.SERVICE, "IPVS_CMD_ATTR_SERVICE", "a service");
    if (attrs.has(IPVS_SVC_ATTR.FWMARK) && !attrs.has(IPVS_SVC_ATTR.ADDR)) return undefined;
    const number = attrs.u16(IPVS_SVC_ATTR.PROTOCOL, "IPVS_SVC_ATTR_PROTOCOL");
    const protocol = PROTOCOL_OF.get(number);
    if (protocol === undefined) {
      throw new IpvsDecodeError(`a service has protocol ${number}, not TCP, UDP or SCTP`);
    }
    const af = attrs.u16(IPVS_SVC_ATTR.AF, "IPVS_SVC_ATTR_AF");
    const scheduler = attrs.string(IPVS_SVC_ATTR.SCHED_NAME, "IPVS_SVC_ATTR_SCHED_NAME");
    // struct ip_vs_flags: the flags come first, the mask after them.
    const flags = attrs.u32(IPVS_SVC_ATTR.FLAGS, "IPVS_SVC_ATTR_FLAGS");
    const timeout = attrs.u32(IPVS_SVC_ATTR.TIMEOUT, "IPVS_SVC_ATTR_TIMEOUT");
    return {
      protocol,
      address: decodeAddress(af, attrs.raw(IPVS_SVC_ATTR.ADDR), "a service"),
      port: attrs.u16(IPVS_SVC_ATTR.PORT, "IPVS_SVC_ATTR_PORT", true),
      scheduler,
      persistenceTimeout: (flags & IP_VS_SVC_F.PERSISTENT) !== 0 ? timeout : 0,
      flags: schedulerFlagNames(scheduler, flags),
      service: "",
      realServers: [],
    };
  });
}

// ipvsadm's fwd_switch: -m for NAT, -g for direct routing and local node, -i for tunnels.
const FORWARD_NAME = new Map<number, string>([
  [FWD.MASQ, "masq"],
  [FWD.LOCALNODE, "route"],
  [FWD.DROUTE, "route"],
  [FWD.TUNNEL, "tunnel"],
]);

/**
 * One message of the GET_DEST dump (`IPVS_CMD_NEW_DEST`) as the exec backend reads it:
 * `-a -t 10.0.0.1:443 -r 192.168.0.1:6443 -m -w 1` with ActiveConn and InActConn from
 * `  -> 192.168.0.1:6443  Masq  1  1  0`. The address family is the destination's own when
 * the kernel names it, else the service's (`serviceIsV6`).
 */
export function decodeDestination(reply: Uint8Array, serviceIsV6: boolean): RealServer {
  const top = decodeTopLevel(reply, IPVS_CMD.NEW_DEST, "a GET_DEST reply");
  return guarded("a destination", () => {
    const attrs = top.nested(IPVS_CMD_ATTR.DEST, "IPVS_CMD_ATTR_DEST", "a destination");
    const af = attrs.has(IPVS_DEST_ATTR.ADDR_FAMILY)
      ? attrs.u16(IPVS_DEST_ATTR.ADDR_FAMILY, "IPVS_DEST_ATTR_ADDR_FAMILY")
      : (serviceIsV6 ? AF_INET6 : AF_INET);
    const method = attrs.u32(IPVS_DEST_ATTR.FWD_METHOD, "IPVS_DEST_ATTR_FWD_METHOD") & 7;
    const forward = FORWARD_NAME.get(method);
    if (forward === undefined) {
      throw new IpvsDecodeError(`a destination has forwarding method ${method}`);
    }
    return {
      address: decodeAddress(af, attrs.raw(IPVS_DEST_ATTR.ADDR), "a destination"),
      port: attrs.u16(IPVS_DEST_ATTR.PORT, "IPVS_DEST_ATTR_PORT", true),
      // The state types name only "masq"; other methods are reported as read, like the exec read.
      forward: forward as RealServer["forward"],
      weight: attrs.u32(IPVS_DEST_ATTR.WEIGHT, "IPVS_DEST_ATTR_WEIGHT") | 0,
      activeConnections: attrs.u32(IPVS_DEST_ATTR.ACTIVE_CONNS, "IPVS_DEST_ATTR_ACTIVE_CONNS"),
      inactiveConnections: attrs.u32(IPVS_DEST_ATTR.INACT_CONNS, "IPVS_DEST_ATTR_INACT_CONNS"),
    };
  });
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
export function decodeInfo(reply: Uint8Array): IpvsInfo {
  const attrs = decodeTopLevel(reply, IPVS_CMD.SET_INFO, "a GET_INFO reply");
  return guarded("a GET_INFO reply", () => {
    const code = attrs.u32(IPVS_INFO_ATTR.VERSION, "IPVS_INFO_ATTR_VERSION");
    return {
      version: `${(code >> 16) & 0xff}.${(code >> 8) & 0xff}.${code & 0xff}`,
      versionCode: code,
      tableSize: attrs.u32(IPVS_INFO_ATTR.CONN_TAB_SIZE, "IPVS_INFO_ATTR_CONN_TAB_SIZE"),
    };
  });
}

/** Decodes the GET_CONFIG reply (`IPVS_CMD_SET_CONFIG`): `ipvsadm -L --timeout`'s three numbers. */
export function decodeTimeouts(reply: Uint8Array): IpvsTimeouts {
  const attrs = decodeTopLevel(reply, IPVS_CMD.SET_CONFIG, "a GET_CONFIG reply");
  return guarded("a GET_CONFIG reply", () => ({
    tcp: attrs.u32(IPVS_CMD_ATTR.TIMEOUT_TCP, "IPVS_CMD_ATTR_TIMEOUT_TCP"),
    tcpFin: attrs.u32(IPVS_CMD_ATTR.TIMEOUT_TCP_FIN, "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN"),
    udp: attrs.u32(IPVS_CMD_ATTR.TIMEOUT_UDP, "IPVS_CMD_ATTR_TIMEOUT_UDP"),
  }));
}

// ---- words for messages ----

const PROTOCOL_WORD: Record<Protocol, string> = { tcp: "TCP", udp: "UDP", sctp: "SCTP" };

/** A virtual server as `ipvsadm -Ln` names it: `TCP 10.0.0.1:80`, `UDP [fd00::a]:53`. */
export function describeVirtualServer(vs: VirtualServerKey): string {
  return `${PROTOCOL_WORD[vs.protocol] ?? vs.protocol} ${hostPort(vs.address, vs.port)}`;
}

/**
 * What an operation does, for its failure message:
 * `add virtual server TCP 10.0.0.1:80`, `delete real server 10.244.0.5:8080 of TCP 10.0.0.1:80`.
 */
export function describeIpvsOperation(op: IpvsOperation): string {
  const vs = describeVirtualServer(op.virtualServer);
  switch (op.op) {
    case "ipvs.addVirtualServer":
      return `add virtual server ${vs}`;
    case "ipvs.editVirtualServer":
      return `edit virtual server ${vs}`;
    case "ipvs.deleteVirtualServer":
      return `delete virtual server ${vs}`;
    case "ipvs.addRealServer":
      return `add real server ${hostPort(op.realServer.address, op.realServer.port)} to ${vs}`;
    case "ipvs.editRealServer":
      return `edit real server ${hostPort(op.realServer.address, op.realServer.port)} of ${vs}`;
    case "ipvs.deleteRealServer":
      return `delete real server ${hostPort(op.realServer.address, op.realServer.port)} of ${vs}`;
  }
}
