/**
 * Virtual servers in the layout of `ipvsadm -Ln`, for people comparing our view with the
 * kernel's. Column widths follow ipvsadm's `print_service_entry`: the service is
 * `%-4s %s` (protocol, address:port; cut at 33 characters for IPv4) and each real server
 * `  -> %-28s %-7s %-6d %-10u %-10u`, so lines end in the padding ipvsadm prints.
 *
 * @module
 */

import type { Protocol } from "../cluster/types.ts";
import type { RealServer, VirtualServer } from "../state/types.ts";
import { hostPort } from "../state/keys.ts";
import { safeInteger, safeToken } from "./guard.ts";
import { sortLikeIpvsadm } from "./ipvsadm.ts";

/** Options of {@linkcode renderIpvsTable}. */
export interface IpvsTableOptions {
  /**
   * The IPVS version in the title.
   * @default {"1.2.1"}
   */
  readonly version?: string;
  /**
   * The connection table size in the title.
   * @default {4096}
   */
  readonly size?: number;
}

const PROTOCOL_NAME: Record<Protocol, string> = { tcp: "TCP", udp: "UDP", sctp: "SCTP" };
const FORWARD_NAME: Record<string, string> = { masq: "Masq", route: "Route", tunnel: "Tunnel" };

function endpointName(address: string, port: number, what: string): string {
  safeInteger(port, 0, 65535, `${what} port`);
  return hostPort(safeToken(address, `${what} address`), port);
}

function serviceLine(vs: VirtualServer): string {
  const isV4 = !vs.address.includes(":");
  let name = `${PROTOCOL_NAME[vs.protocol].padEnd(4)} ${
    endpointName(vs.address, vs.port, "virtual server")
  }`;
  if (isV4) name = name.slice(0, 33);
  let line = `${name} ${safeToken(vs.scheduler, "IPVS scheduler")}`;
  if (vs.flags.length > 0) {
    line += ` (${vs.flags.map((f) => safeToken(f, "IPVS scheduler flag")).join(",")})`;
  }
  if (vs.persistenceTimeout > 0) {
    line += ` persistent ${safeInteger(vs.persistenceTimeout, 1, 2 ** 31 - 1, "persistence")}`;
  }
  return line;
}

function realServerLine(rs: RealServer): string {
  let name = endpointName(rs.address, rs.port, "real server");
  if (!rs.address.includes(":")) name = name.slice(0, 28);
  const forward = FORWARD_NAME[rs.forward] ?? safeToken(rs.forward, "forward method");
  const weight = safeInteger(rs.weight, 0, 65535, "real server weight");
  const active = safeInteger(rs.activeConnections ?? 0, 0, 2 ** 32 - 1, "ActiveConn");
  const inactive = safeInteger(rs.inactiveConnections ?? 0, 0, 2 ** 32 - 1, "InActConn");
  return `  -> ${name.padEnd(28)} ${forward.padEnd(7)} ${weight.padEnd(6)} ${active.padEnd(10)} ${
    inactive.padEnd(10)
  }`;
}

/**
 * The virtual servers as `ipvsadm -Ln` prints them, in ipvsadm's order; connection counts
 * absent from the state print as 0.
 *
 * @example
 * ```ts
 * renderIpvsTable([]);
 * // "IP Virtual Server version 1.2.1 (size=4096)\n" +
 * // "Prot LocalAddress:Port Scheduler Flags\n" +
 * // "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
 * ```
 */
export function renderIpvsTable(
  virtualServers: readonly VirtualServer[],
  options: IpvsTableOptions = {},
): string {
  const version = safeToken(options.version ?? "1.2.1", "IPVS version");
  const size = safeInteger(options.size ?? 4096, 0, 2 ** 31 - 1, "IPVS table size");
  const lines = [
    `IP Virtual Server version ${version} (size=${size})`,
    "Prot LocalAddress:Port Scheduler Flags",
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
  ];
  for (const vs of sortLikeIpvsadm(virtualServers)) {
    lines.push(serviceLine(vs));
    for (const rs of vs.realServers) lines.push(realServerLine(rs));
  }
  return lines.map((line) => line + "\n").join("");
}
