/**
 * The kernel's own table of IPVS destinations, `/proc/net/ip_vs`, read in one go: what the
 * netlink read takes the real servers from instead of one GET_DEST dump per virtual server.
 *
 * Why: generic netlink has no dump of every destination (`IPVS_CMD_GET_DEST` needs the
 * service), so a read of 2,500 virtual servers was 2,500 dumps of three system calls each,
 * 4.7-6.8 s in the project's VM. The kernel prints the same fields of the same
 * `struct ip_vs_dest` here (`ip_vs_info_seq_show`: address, port, forwarding method, weight,
 * ActiveConn, InActConn); reading all of them took 0.3 s there, and parsing them 0.5 s. The
 * services themselves still come from the GET_SERVICE dump, which has what this table lacks
 * (the scheduler flags; the persistence timeout here is in jiffies).
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
import { virtualServerKey } from "../../src/state/keys.ts";
import type { RealServer } from "../../src/state/types.ts";

/** Where the kernel prints the IPVS table of the reading process's network namespace. */
export const IPVS_PROC_TABLE = "/proc/net/ip_vs";

/**
 * Real servers by virtual server (its `virtualServerKey`, e.g. `10.96.0.10:80/tcp`), in the
 * kernel's order.
 */
export type DestinationTable = ReadonlyMap<string, readonly RealServer[]>;

const PROTOCOL_OF: Readonly<Record<string, Protocol>> = { TCP: "tcp", UDP: "udp", SCTP: "sctp" };

/**
 * `ip_vs_fwd_name()`'s names as the GET_DEST decode names the kernel's method numbers
 * (`ipvs_replies.ts`, which follows ipvsadm: the local node is `-g`). The kernel prints
 * "Masq" for every method it has no name for; ipvsadm cannot set those.
 */
const FORWARD_OF: readonly (readonly [string, string])[] = [
  ["Masq", "masq"],
  ["Local", "route"],
  ["Tunnel", "tunnel"],
  ["Route", "route"],
];

const HEADER = /^IP Virtual Server version \d+\.\d+\.\d+ \(size=\d+\)\n/;
const COLUMNS = "Prot LocalAddress:Port Scheduler Flags\n" +
  "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n";
const REAL_SERVER = "  -> ";
const OTHER_PROTOCOL = /^[A-Za-z0-9_]+$/;

const SPACE = 0x20;
const COLON = 0x3a;
const MINUS = 0x2d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** The value of a hex digit's character code, -1 for any other character. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/**
 * Reads the table's fields by character code, one line at a time: no split, regex or array
 * per line, which under the VM's TCG took the parse of 27,500 lines from 1.5 s to 0.5 s. Each
 * read method moves `at`, and gives false, -1, NaN or `undefined` for text of another shape.
 */
class Scanner {
  at = 0;
  /** Where the current line's newline is. */
  lineEnd = 0;
  /** The address and port the last {@linkcode Scanner.socket} read. */
  address = "";
  port = 0;

  constructor(readonly text: string) {}

  /** Moves to the start of the next line: false at the end, or for a line with no newline. */
  nextLine(from: number): boolean {
    this.at = from;
    this.lineEnd = this.text.indexOf("\n", from);
    return this.lineEnd !== -1;
  }

  startsWith(prefix: string): boolean {
    if (!this.text.startsWith(prefix, this.at)) return false;
    this.at += prefix.length;
    return true;
  }

  /** Skips spaces; false when there were fewer than `least`. */
  spaces(least: number): boolean {
    const start = this.at;
    while (this.at < this.lineEnd && this.text.charCodeAt(this.at) === SPACE) this.at++;
    return this.at - start >= least;
  }

  /** Everything up to the next space or the line's end. */
  word(): string {
    const start = this.at;
    while (this.at < this.lineEnd && this.text.charCodeAt(this.at) !== SPACE) this.at++;
    return this.text.slice(start, this.at);
  }

  char(code: number): boolean {
    if (this.at >= this.lineEnd || this.text.charCodeAt(this.at) !== code) return false;
    this.at++;
    return true;
  }

  hex(digits: number): number {
    if (this.at + digits > this.lineEnd) return -1;
    let value = 0;
    for (let i = 0; i < digits; i++) {
      const digit = hexValue(this.text.charCodeAt(this.at + i));
      if (digit < 0) return -1;
      value = value * 16 + digit;
    }
    this.at += digits;
    return value;
  }

  /** A decimal integer, `-` allowed; NaN when there is none. */
  decimal(): number {
    const negative = this.char(MINUS);
    const start = this.at;
    let value = 0;
    for (; this.at < this.lineEnd; this.at++) {
      const digit = this.text.charCodeAt(this.at) - 0x30;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
    }
    if (this.at === start) return NaN;
    return negative ? -value : value;
  }

  /** `0A60000A:0050` or `[fd00:0010:...:000a]:0035` into `address` and `port`. */
  socket(): boolean {
    if (this.char(OPEN_BRACKET)) {
      const bytes: number[] = [];
      for (let group = 0; group < 8; group++) {
        if (group > 0 && !this.char(COLON)) return false;
        const value = this.hex(4);
        if (value < 0) return false;
        bytes.push(value >> 8, value & 255);
      }
      if (!this.char(CLOSE_BRACKET)) return false;
      // The same conversion as the GET_DEST decode, so both reads name an address alike.
      this.address = ipaddr.fromByteArray(bytes).toString();
    } else {
      const n = this.hex(8);
      if (n < 0) return false;
      this.address = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    }
    if (!this.char(COLON)) return false;
    this.port = this.hex(4);
    return this.port >= 0;
  }

  /** A forwarding method's name, as the state names it. */
  forward(): string | undefined {
    for (const [name, forward] of FORWARD_OF) {
      if (this.startsWith(name)) return forward;
    }
    return undefined;
  }
}

/** `  -> 0AF40105:1F90      Masq    1      0          0` (after the arrow) as a real server. */
function parseDestination(line: Scanner): RealServer | undefined {
  if (!line.socket() || !line.spaces(1)) return undefined;
  const forward = line.forward();
  if (forward === undefined || !line.spaces(1)) return undefined;
  const weight = line.decimal();
  if (!line.spaces(1)) return undefined;
  const active = line.decimal();
  if (!line.spaces(1)) return undefined;
  const inactive = line.decimal();
  line.spaces(0);
  if (line.at !== line.lineEnd || Number.isNaN(weight + active + inactive)) return undefined;
  return {
    address: line.address,
    port: line.port,
    // The state types name only "masq"; other methods are reported as read, as netlink's are.
    forward: forward as RealServer["forward"],
    // As netlink carries them: the weight signed, the counts as u32.
    weight: weight | 0,
    activeConnections: active >>> 0,
    inactiveConnections: inactive >>> 0,
  };
}

/**
 * The key of a service line (`TCP  0A60000A:0050 rr ...`), `null` for a service that is not
 * one of ours to read (a firewall mark, or a protocol the state does not model: its real
 * servers are skipped with it), `undefined` for a line that is not a service at all.
 */
function parseServiceKey(line: Scanner): string | null | undefined {
  const name = line.word();
  if (!line.spaces(1)) return undefined;
  if (name === "FWM") return null;
  const protocol = Object.hasOwn(PROTOCOL_OF, name) ? PROTOCOL_OF[name] : undefined;
  if (protocol === undefined) return OTHER_PROTOCOL.test(name) ? null : undefined;
  // The socket, then the scheduler's name.
  if (!line.socket() || !line.spaces(1) || line.word() === "") return undefined;
  return virtualServerKey({ protocol, address: line.address, port: line.port });
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
 * console.log(table?.get("10.96.0.10:80/tcp")); // [{ address: "10.244.1.5", port: 8080, ... }]
 * ```
 */
export function parseDestinationTable(text: string): DestinationTable | undefined {
  const header = HEADER.exec(text);
  if (header === null || !text.startsWith(COLUMNS, header[0].length)) return undefined;
  const table = new Map<string, RealServer[]>();
  // The real servers of the service being read; null under one left out, undefined before any.
  let current: RealServer[] | null | undefined;
  const line = new Scanner(text);
  for (let next = header[0].length + COLUMNS.length; next < text.length; next = line.lineEnd + 1) {
    if (!line.nextLine(next)) return undefined;
    if (line.startsWith(REAL_SERVER)) {
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
