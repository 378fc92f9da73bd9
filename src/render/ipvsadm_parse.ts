/**
 * Parsers for what `ipvsadm -Sn` and `ipvsadm -Ln` print, into the state types.
 * Re-exported by `ipvsadm.ts`; kept apart so each file stays small.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import type { Protocol } from "../cluster/types.ts";
import type { RealServer, VirtualServer } from "../state/types.ts";
import { realServerKey, virtualServerKey } from "../state/keys.ts";
import { numberedLines, ParseError } from "./parse_error.ts";

/** Splits `10.0.0.1:443` or `[fd00::1]:443` into a canonical address and a port, or null. */
export function parseHostPort(text: string): { address: string; port: number } | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(text);
  if (!match) return null;
  const raw = match[1] ?? match[2];
  const port = Number(match[3]);
  if (!ipaddr.isValid(raw) || port > 65535) return null;
  const parsed = ipaddr.parse(raw);
  if ((match[1] !== undefined) !== (parsed.kind() === "ipv6")) return null;
  return { address: parsed.toString(), port };
}

type Builder = { -readonly [K in keyof VirtualServer]: VirtualServer[K] } & {
  realServers: RealServer[];
};

// The state types only name "masq"; other methods are reported as read (see ForwardMethod).
type AnyForward = RealServer["forward"];

const SAVE_PROTOCOL: Record<string, Protocol> = {
  "-t": "tcp",
  "--tcp-service": "tcp",
  "-u": "udp",
  "--udp-service": "udp",
  "--sctp-service": "sctp",
};
const SAVE_FORWARD: Record<string, string> = { "-m": "masq", "-g": "route", "-i": "tunnel" };
// Options ipvsadm may print that this proxier does not model: skipped with their value.
const SKIPPED_WITH_VALUE = new Set(["-M", "--pe", "--tun-type", "--tun-port", "-x", "-y"]);
const SKIPPED_ALONE = new Set(["-o", "--tun-nocsum", "--tun-csum", "--tun-remcsum"]);

class SaveLine {
  constructor(readonly tokens: string[], readonly lineNumber: number, readonly line: string) {}
  fail(expected: string): never {
    throw new ParseError("ipvsadm -Sn", this.lineNumber, this.line, expected);
  }
  number(text: string | undefined, what: string): number {
    if (text === undefined || !/^\d+$/.test(text)) this.fail(`a number for ${what}`);
    return Number(text);
  }
  endpoint(text: string | undefined): { address: string; port: number } {
    return parseHostPort(text ?? "") ?? this.fail(`a numeric address:port, got ${text}`);
  }
}

function parseServiceOptions(line: SaveLine, vs: Builder): void {
  const t = line.tokens;
  for (let i = 3; i < t.length; i++) {
    const option = t[i];
    if (option === "-s") vs.scheduler = t[++i] ?? line.fail("a scheduler after -s");
    else if (option === "-p") vs.persistenceTimeout = line.number(t[++i], "-p");
    else if (option === "-b") vs.flags = (t[++i] ?? line.fail("flags after -b")).split(",");
    else if (SKIPPED_WITH_VALUE.has(option)) i++;
    else if (!SKIPPED_ALONE.has(option)) line.fail(`a known option, got ${option}`);
  }
}

function parseDestinationOptions(line: SaveLine): RealServer {
  const t = line.tokens;
  let target: { address: string; port: number } | undefined;
  let forward = "masq";
  let weight = 1;
  for (let i = 3; i < t.length; i++) {
    const option = t[i];
    if (option === "-r") target = line.endpoint(t[++i]);
    else if (option in SAVE_FORWARD) forward = SAVE_FORWARD[option];
    else if (option === "-w") weight = line.number(t[++i], "-w");
    else if (SKIPPED_WITH_VALUE.has(option)) i++;
    else if (!SKIPPED_ALONE.has(option)) line.fail(`a known option, got ${option}`);
  }
  if (!target) return line.fail("-r address:port");
  return { ...target, forward: forward as AnyForward, weight };
}

/**
 * Parses `ipvsadm -Sn` output (the `ipvsadm --restore` format) into virtual servers.
 * Firewall-mark services (`-A -f 1 ...`) are not ours and are skipped.
 *
 * @example
 * ```ts
 * // ipvsadm -Sn prints:
 * //   -A -t 10.0.0.1:443 -s rr -p 10800
 * //   -a -t 10.0.0.1:443 -r 192.168.0.1:6443 -m -w 1
 * parseIpvsadmSave("-A -t 10.0.0.1:443 -s rr -p 10800\n");
 * ```
 */
export function parseIpvsadmSave(text: string): VirtualServer[] {
  const byKey = new Map<string, Builder>();
  for (const { line, lineNumber } of numberedLines(text)) {
    const parsed = new SaveLine(line.trim().split(/\s+/), lineNumber, line);
    const [command, serviceOption, serviceValue] = parsed.tokens;
    if (serviceOption === "-f" || serviceOption === "--fwmark-service") continue;
    const protocol = SAVE_PROTOCOL[serviceOption];
    if (protocol === undefined) parsed.fail("-t, -u, --sctp-service or -f after the command");
    const key = virtualServerKey({ protocol, ...parsed.endpoint(serviceValue) });
    if (command === "-A") {
      const vs: Builder = {
        protocol,
        ...parsed.endpoint(serviceValue),
        scheduler: "",
        persistenceTimeout: 0,
        flags: [],
        service: "",
        realServers: [],
      };
      parseServiceOptions(parsed, vs);
      byKey.set(key, vs);
    } else if (command === "-a") {
      const vs = byKey.get(key) ?? parsed.fail(`a real server of a service listed above (${key})`);
      vs.realServers.push(parseDestinationOptions(parsed));
    } else {
      parsed.fail("a line starting with -A or -a");
    }
  }
  return [...byKey.values()];
}

const LIST_PROTOCOL: Record<string, Protocol> = { TCP: "tcp", UDP: "udp", SCTP: "sctp" };
const LIST_FORWARD: Record<string, string> = {
  Masq: "masq",
  Route: "route",
  Local: "route",
  Tunnel: "tunnel",
};

function parseServiceRest(rest: string, vs: Builder, fail: (e: string) => never): void {
  const words = rest.trim() === "" ? [] : rest.trim().split(/\s+/);
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (/^\(.*\)$/.test(word)) vs.flags = word.slice(1, -1).split(",");
    else if (word === "persistent" && /^\d+$/.test(words[i + 1] ?? "")) {
      vs.persistenceTimeout = Number(words[++i]);
    } else if (word === "mask" || word === "pe") i++;
    else if (word !== "ops") fail(`scheduler flags or "persistent N", got ${word}`);
  }
}

/**
 * Parses `ipvsadm -Ln` output, which (unlike `-Sn`) has the connection counts.
 *
 * @example
 * ```ts
 * // ipvsadm -Ln prints (after a two-line title):
 * //   TCP  10.0.0.1:443 rr persistent 10800
 * //     -> 192.168.0.1:6443             Masq    1      1          0
 * ```
 */
export function parseIpvsadmList(text: string): VirtualServer[] {
  const result: Builder[] = [];
  // "skip" while under a firewall-mark service: neither it nor its real servers are ours.
  let current: Builder | "skip" | null = null;
  for (const { line, lineNumber } of numberedLines(text)) {
    const fail = (expected: string): never => {
      throw new ParseError("ipvsadm -Ln", lineNumber, line, expected);
    };
    if (/^(IP Virtual Server|Prot LocalAddress|\s+-> RemoteAddress)/.test(line)) continue;
    if (/^FWM\s/.test(line)) {
      current = "skip";
      continue;
    }
    const service = /^(TCP|UDP|SCTP)\s+(\S+)\s+(\S+)(.*)$/.exec(line);
    if (service) {
      const where = parseHostPort(service[2]) ?? fail(`a numeric address:port (use -n)`);
      current = {
        protocol: LIST_PROTOCOL[service[1]],
        ...where,
        scheduler: service[3],
        persistenceTimeout: 0,
        flags: [],
        service: "",
        realServers: [],
      };
      parseServiceRest(service[4], current, fail);
      result.push(current);
      continue;
    }
    const dest = /^\s+->\s+(\S+)\s+(\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/.exec(line);
    if (!dest || !current) return fail("a service line or a '  -> address:port' line under one");
    if (current === "skip") continue;
    current.realServers.push({
      ...(parseHostPort(dest[1]) ?? fail("a numeric address:port (use -n)")),
      forward: (LIST_FORWARD[dest[2]] ?? fail("Masq, Route, Local or Tunnel")) as AnyForward,
      weight: Number(dest[3]),
      activeConnections: Number(dest[4]),
      inactiveConnections: Number(dest[5]),
    });
  }
  return result;
}

/**
 * The saved virtual servers (`ipvsadm -Sn`, exact settings) with ActiveConn and InActConn
 * taken from the listed ones (`ipvsadm -Ln`); a real server not listed keeps no counts.
 */
export function withConnectionCounts(
  saved: readonly VirtualServer[],
  listed: readonly VirtualServer[],
): VirtualServer[] {
  const counts = new Map<string, RealServer>();
  for (const vs of listed) {
    for (const rs of vs.realServers) counts.set(`${virtualServerKey(vs)} ${realServerKey(rs)}`, rs);
  }
  return saved.map((vs) => ({
    ...vs,
    realServers: vs.realServers.map((rs) => {
      const listedRs = counts.get(`${virtualServerKey(vs)} ${realServerKey(rs)}`);
      if (listedRs?.activeConnections === undefined) return rs;
      return {
        ...rs,
        activeConnections: listedRs.activeConnections,
        inactiveConnections: listedRs.inactiveConnections ?? 0,
      };
    }),
  }));
}
