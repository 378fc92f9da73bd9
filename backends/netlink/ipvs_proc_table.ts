/**
 * The kernel's own table of IPVS destinations, `/proc/net/ip_vs`, read in one go: what the
 * netlink read takes the real servers from instead of one GET_DEST dump per virtual server.
 *
 * Why: generic netlink has no dump of every destination (`IPVS_CMD_GET_DEST` needs the
 * service), so a read of 2,500 virtual servers was 2,500 dumps of three system calls each,
 * 5 s in the project's VM. The kernel prints the same fields of the same `struct ip_vs_dest`
 * here (`ip_vs_info_seq_show`: address, port, forwarding method, weight, ActiveConn,
 * InActConn), and reading all of them took 190 ms there. The services themselves still come
 * from the GET_SERVICE dump, which has what this table lacks (the scheduler flags; the
 * persistence timeout here is in jiffies).
 *
 * The file is always the reading process's network namespace (`/proc/net` is
 * `/proc/self/net`). What is printed, per line:
 *
 * ```text
 * IP Virtual Server version 1.2.1 (size=4096)
 * Prot LocalAddress:Port Scheduler Flags
 *   -> RemoteAddress:Port Forward Weight ActiveConn InActConn
 * TCP  0A60000A:0050 rr  persistent 2700000 FFFFFFFF
 *   -> 0AF40105:1F90      Masq    1      0          0
 * UDP  [fd00:0010:0096:0000:0000:0000:0000:000a]:0035 mh
 * FWM  00000001 rr
 * ```
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import type { Protocol } from "../../src/cluster/types.ts";
import type { RealServer } from "../../src/state/types.ts";

/** Where the kernel prints the IPVS table of the reading process's network namespace. */
export const IPVS_PROC_TABLE = "/proc/net/ip_vs";

/** Real servers by virtual server ({@linkcode destinationKey}), in the kernel's order. */
export type DestinationTable = ReadonlyMap<string, readonly RealServer[]>;

/**
 * The key of a virtual server in a {@linkcode DestinationTable}: protocol, canonical address
 * and port, e.g. `tcp 10.96.0.10 80`.
 */
export function destinationKey(protocol: Protocol, address: string, port: number): string {
  return `${protocol} ${address} ${port}`;
}

const PROTOCOL_OF: Readonly<Record<string, Protocol>> = { TCP: "tcp", UDP: "udp", SCTP: "sctp" };

/**
 * `ip_vs_fwd_name()`'s names as the GET_DEST decode names the kernel's method numbers
 * (`ipvs_replies.ts`, which follows ipvsadm: the local node is `-g`). The kernel prints
 * "Masq" for every method it has no name for; ipvsadm cannot set those.
 */
const FORWARD_OF: Readonly<Record<string, string>> = {
  Masq: "masq",
  Local: "route",
  Tunnel: "tunnel",
  Route: "route",
};

const HEADER = /^IP Virtual Server version \d+\.\d+\.\d+ \(size=\d+\)$/;
const IPV4_SOCKET = /^([0-9A-F]{8}):([0-9A-F]{4})$/;
const IPV6_SOCKET = /^\[((?:[0-9a-f]{4}:){7}[0-9a-f]{4})\]:([0-9A-F]{4})$/;
const INTEGER = /^-?\d+$/;

/** `0A60000A:0050` or `[fd00:0010:...:000a]:0035` as a canonical address and a port. */
function parseSocket(text: string): { address: string; port: number } | undefined {
  const v4 = IPV4_SOCKET.exec(text);
  if (v4 !== null) {
    const n = parseInt(v4[1], 16);
    const address = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    return { address, port: parseInt(v4[2], 16) };
  }
  const v6 = IPV6_SOCKET.exec(text);
  if (v6 === null) return undefined;
  const bytes = v6[1].split(":").flatMap((group) => {
    const n = parseInt(group, 16);
    return [n >> 8, n & 255];
  });
  // The same conversion as the GET_DEST decode, so both reads name an address alike.
  return { address: ipaddr.fromByteArray(bytes).toString(), port: parseInt(v6[2], 16) };
}

/** `  -> 0AF40105:1F90      Masq    1      0          0` as a real server. */
function parseDestination(line: string): RealServer | undefined {
  const fields = line.slice(5).split(" ").filter((field) => field !== "");
  if (fields.length !== 5) return undefined;
  const [socket, method, weight, active, inactive] = fields;
  const at = parseSocket(socket);
  const forward = Object.hasOwn(FORWARD_OF, method) ? FORWARD_OF[method] : undefined;
  if (at === undefined || forward === undefined) return undefined;
  if (![weight, active, inactive].every((n) => INTEGER.test(n))) return undefined;
  return {
    address: at.address,
    port: at.port,
    // The state types name only "masq"; other methods are reported as read, as netlink's are.
    forward: forward as RealServer["forward"],
    // As netlink carries them: the weight signed, the counts as u32.
    weight: Number(weight) | 0,
    activeConnections: Number(active) >>> 0,
    inactiveConnections: Number(inactive) >>> 0,
  };
}

/**
 * The key of a service line (`TCP  0A60000A:0050 rr ...`), `null` for a service that is not
 * one of ours to read (a firewall mark, or a protocol the state does not model: its real
 * servers are skipped with it), `undefined` for a line that is not a service at all.
 */
function parseServiceKey(line: string): string | null | undefined {
  const fields = line.split(" ").filter((field) => field !== "");
  if (fields.length < 3) return undefined;
  if (fields[0] === "FWM") return null;
  const protocol = Object.hasOwn(PROTOCOL_OF, fields[0]) ? PROTOCOL_OF[fields[0]] : undefined;
  if (protocol === undefined) return /^[A-Za-z0-9_]+$/.test(fields[0]) ? null : undefined;
  const at = parseSocket(fields[1]);
  return at === undefined ? undefined : destinationKey(protocol, at.address, at.port);
}

/**
 * Every virtual server's real servers as `/proc/net/ip_vs` lists them, or `undefined` when
 * the text is not that table as this parser knows it (the caller then dumps each service
 * through netlink): a header or a line of another shape, or a virtual server listed twice
 * (a read torn by a concurrent change). Firewall-mark services and protocols other than TCP,
 * UDP and SCTP are left out, with their real servers.
 *
 * @example
 * ```ts
 * import { parseDestinationTable } from "./ipvs_proc_table.ts";
 * const table = parseDestinationTable(
 *   "IP Virtual Server version 1.2.1 (size=4096)\n" +
 *     "Prot LocalAddress:Port Scheduler Flags\n" +
 *     "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n" +
 *     "TCP  0A60000A:0050 rr \n" +
 *     "  -> 0AF40105:1F90      Masq    1      0          0         \n",
 * );
 * console.log(table?.get("tcp 10.96.0.10 80")); // [{ address: "10.244.1.5", port: 8080, ... }]
 * ```
 */
export function parseDestinationTable(text: string): DestinationTable | undefined {
  const lines = text.split("\n");
  if (
    !HEADER.test(lines[0]) || !lines[1]?.startsWith("Prot LocalAddress:Port") ||
    !lines[2]?.startsWith("  -> RemoteAddress:Port")
  ) return undefined;
  const table = new Map<string, RealServer[]>();
  // The real servers of the service being read; null under one left out, undefined before any.
  let current: RealServer[] | null | undefined;
  for (let i = 3; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") {
      if (i === lines.length - 1) break;
      return undefined;
    }
    if (line.startsWith("  -> ")) {
      const realServer = parseDestination(line);
      if (realServer === undefined || current === undefined) return undefined;
      current?.push(realServer);
      continue;
    }
    const key = parseServiceKey(line);
    if (key === undefined) return undefined;
    if (key === null) {
      current = null;
      continue;
    }
    if (table.has(key)) return undefined;
    current = [];
    table.set(key, current);
  }
  return table;
}

/**
 * Reads and parses {@linkcode IPVS_PROC_TABLE}; `undefined` when it cannot be read (no
 * procfs, no read permission, no IPVS) or parsed, so the caller dumps through netlink.
 */
export async function readDestinationTable(
  path: string = IPVS_PROC_TABLE,
): Promise<DestinationTable | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
  return parseDestinationTable(text);
}
