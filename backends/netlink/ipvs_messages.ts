/**
 * IPVS over generic netlink, without a socket: the constants of `linux/ip_vs.h`, the scheduler
 * flags by ipvsadm's names, and the message bodies for each IPVS operation of a plan and for the
 * reads (service and destination dumps, GET_INFO, GET_CONFIG). The replies are decoded in
 * `ipvs_replies.ts`.
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
import type { RealServer } from "../../src/state/types.ts";
import { hostPort } from "../../src/state/keys.ts";
import { encodeGenl } from "./genl.ts";
import { AttributeWriter, HOST_LITTLE_ENDIAN } from "./message.ts";

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
  const bytes = new Uint8Array(16);
  // IPv4 by hand: this runs twice per operation, and ipaddr.parse costs microseconds. Four
  // dotted decimals only (ipaddr.isValid also takes the legacy "10.0.0" and "0x0a.0.0.1").
  const octets = address.split(".");
  if (octets.length === 4) {
    for (let i = 0; i < 4; i++) {
      const octet = octets[i];
      const n = Number(octet);
      if (!/^\d{1,3}$/.test(octet) || n > 255) break;
      bytes[i] = n;
      if (i === 3) return { af: AF_INET, bytes };
    }
  } else if (ipaddr.IPv6.isValid(address)) {
    bytes.set(ipaddr.IPv6.parse(address).toByteArray());
    return { af: AF_INET6, bytes };
  }
  throw new IpvsEncodeError(`${what} address ${JSON.stringify(address)} is not an IP address`);
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

/** `struct ip_vs_flags { flags, mask }`: a mask of all ones replaces every flag, as ipvsadm does. */
function flagsValue(flags: number): Uint8Array {
  const data = new Uint8Array(8);
  const view = new DataView(data.buffer);
  view.setUint32(0, flags >>> 0, HOST_LITTLE_ENDIAN);
  view.setUint32(4, 0xffffffff, HOST_LITTLE_ENDIAN);
  return data;
}

/** Writes a virtual server's whole settings, for NEW_SERVICE and SET_SERVICE. */
function writeServiceSpec(out: AttributeWriter, vs: VirtualServerSpec): void {
  // A kernel string of printable ASCII only, at most IP_VS_SCHEDNAME_MAXLEN - 1 long.
  if (!/^[\x21-\x7e]{1,15}$/.test(vs.scheduler)) {
    throw new IpvsEncodeError(
      `scheduler ${JSON.stringify(vs.scheduler)} must be 1 to ${MAX_SCHEDULER_LENGTH} ` +
        "printable ASCII characters",
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

/** Writes the destination attributes that name a real server. */
function writeDestinationKey(out: AttributeWriter, rs: Pick<RealServer, "address" | "port">): void {
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

/** Writes a real server's whole settings, for NEW_DEST and SET_DEST. */
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

type Fill = (out: AttributeWriter) => void;

function body(cmd: number, fill?: Fill): Uint8Array {
  const out = new AttributeWriter();
  fill?.(out);
  return encodeGenl(cmd, IPVS_GENL_VERSION, out.bytes());
}

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
