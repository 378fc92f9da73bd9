/**
 * `ipvsadm --restore` input (one line per IPVS operation), `ipvsadm -Sn` save format, and
 * the parsers for `ipvsadm -Sn` and `ipvsadm -Ln` output that the exec backend reads with.
 *
 * @module
 */

import type { Protocol } from "../cluster/types.ts";
import type {
  AddRealServer,
  AddVirtualServer,
  DeleteRealServer,
  DeleteVirtualServer,
  EditRealServer,
  EditVirtualServer,
  VirtualServerKey,
  VirtualServerSpec,
} from "../plan/types.ts";
import type { RealServer, VirtualServer } from "../state/types.ts";
import { addressSortKey, hostPort, sortByKey, sortRealServers } from "../state/keys.ts";
import { safeInteger, safeToken } from "./guard.ts";

/** The operations `ipvsadm` carries out. */
export type IpvsOperation =
  | AddVirtualServer
  | EditVirtualServer
  | DeleteVirtualServer
  | AddRealServer
  | EditRealServer
  | DeleteRealServer;

/**
 * How packets reach a real server, as `ipvsadm` shows it. The state types only name
 * `masq` (all this proxier creates); the parsers also report the others they find, so a
 * foreign real server is seen as different and edited back.
 */
export type ForwardMethod = "masq" | "route" | "tunnel";

const SERVICE_OPTION: Record<Protocol, string> = {
  tcp: "-t",
  udp: "-u",
  sctp: "--sctp-service",
};

const FORWARD_OPTION: Record<ForwardMethod, string> = { masq: "-m", route: "-g", tunnel: "-i" };

function endpoint(address: string, port: number, what: string): string {
  safeInteger(port, 0, 65535, `${what} port`);
  return hostPort(safeToken(address, `${what} address`), port);
}

/** The service part of an ipvsadm line: `-t 10.0.0.1:443`, `-u [fd00::1]:53`. */
export function serviceSpec(vs: VirtualServerKey): string {
  return `${SERVICE_OPTION[vs.protocol]} ${endpoint(vs.address, vs.port, "virtual server")}`;
}

function virtualServerLine(command: "-A" | "-E", vs: VirtualServerSpec): string {
  const parts = [command, serviceSpec(vs), "-s", safeToken(vs.scheduler, "IPVS scheduler")];
  if (vs.persistenceTimeout > 0) {
    parts.push("-p", safeInteger(vs.persistenceTimeout, 1, 2 ** 31 - 1, "persistence timeout"));
  }
  if (vs.flags.length > 0) {
    parts.push("-b", vs.flags.map((f) => safeToken(f, "IPVS scheduler flag")).join(","));
  }
  return parts.join(" ");
}

function realServerLine(command: "-a" | "-e", vs: VirtualServerKey, rs: RealServer): string {
  const forward = FORWARD_OPTION[rs.forward as ForwardMethod];
  if (forward === undefined) throw new TypeError(`Unknown forward method "${rs.forward}"`);
  const target = endpoint(rs.address, rs.port, "real server");
  const weight = safeInteger(rs.weight, 0, 65535, "real server weight");
  return `${command} ${serviceSpec(vs)} -r ${target} ${forward} -w ${weight}`;
}

/**
 * The `ipvsadm --restore` line of one operation.
 *
 * @example
 * ```ts
 * renderIpvsadmLine({
 *   op: "ipvs.deleteVirtualServer",
 *   virtualServer: { protocol: "udp", address: "10.0.0.10", port: 53 },
 * }); // "-D -u 10.0.0.10:53"
 * ```
 */
export function renderIpvsadmLine(op: IpvsOperation): string {
  switch (op.op) {
    case "ipvs.addVirtualServer":
      return virtualServerLine("-A", op.virtualServer);
    case "ipvs.editVirtualServer":
      return virtualServerLine("-E", op.virtualServer);
    case "ipvs.deleteVirtualServer":
      return `-D ${serviceSpec(op.virtualServer)}`;
    case "ipvs.addRealServer":
      return realServerLine("-a", op.virtualServer, op.realServer);
    case "ipvs.editRealServer":
      return realServerLine("-e", op.virtualServer, op.realServer);
    case "ipvs.deleteRealServer": {
      const target = endpoint(op.realServer.address, op.realServer.port, "real server");
      return `-d ${serviceSpec(op.virtualServer)} -r ${target}`;
    }
  }
}

/** What `ipvsadm --restore` reads on stdin to carry out `ops`, one line each. */
export function renderIpvsadmRestore(ops: readonly IpvsOperation[]): string {
  return ops.map((op) => renderIpvsadmLine(op) + "\n").join("");
}

const PROTOCOL_NUMBER: Record<Protocol, string> = { tcp: "006", udp: "017", sctp: "132" };

/**
 * Virtual servers in the order ipvsadm lists them (family, protocol number, address, port;
 * libipvs' `ipvs_cmp_services`), each with its real servers by address and port.
 */
export function sortLikeIpvsadm(virtualServers: readonly VirtualServer[]): VirtualServer[] {
  return sortByKey(virtualServers, (vs) => {
    const address = addressSortKey(vs.address);
    return `${address[0]}${PROTOCOL_NUMBER[vs.protocol]}${address}:${
      String(vs.port).padStart(5, "0")
    }`;
  }).map((vs) => ({ ...vs, realServers: sortRealServers(vs.realServers) }));
}

/**
 * The virtual servers in `ipvsadm -Sn` format (which `ipvsadm --restore` also reads):
 * `-A -t 10.0.0.1:443 -s rr -p 10800` then `-a -t 10.0.0.1:443 -r 192.168.0.1:6443 -m -w 1`.
 */
export function renderIpvsState(virtualServers: readonly VirtualServer[]): string {
  const lines: string[] = [];
  for (const vs of sortLikeIpvsadm(virtualServers)) {
    lines.push(virtualServerLine("-A", vs));
    for (const rs of vs.realServers) lines.push(realServerLine("-a", vs, rs));
  }
  return lines.map((line) => line + "\n").join("");
}

export {
  parseHostPort,
  parseIpvsadmList,
  parseIpvsadmSave,
  withConnectionCounts,
} from "./ipvsadm_parse.ts";
