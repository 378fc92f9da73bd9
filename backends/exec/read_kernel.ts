/**
 * What the exec backend reads from the kernel, through the tools' own save formats: IPVS from
 * `ipvsadm -Sn` and `-Ln`, our ipsets from `ipset save`, our chains and jumps from
 * `iptables-save` / `ip6tables-save`, and `kube-ipvs0` with its addresses from `ip -j addr`.
 * Every read runs one tool with an argument array; a tool that fails throws a `ToolError`
 * naming it and its stderr.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import type {
  BoundAddress,
  IpSet,
  IptablesFamily,
  IptablesFamilyState,
  VirtualServer,
} from "../../src/state/types.ts";
import { isOurChain, isOurSetName } from "../../src/proxier/ownership.ts";
import { IPVS_DEVICE } from "../../src/state/types.ts";
import {
  parseIpvsadmList,
  parseIpvsadmSave,
  withConnectionCounts,
} from "../../src/render/ipvsadm.ts";
import { parseIpsetSave } from "../../src/render/ipset.ts";
import { parseIptablesSave } from "../../src/render/iptables.ts";
import { type CommandRunner, runOrThrow, ToolError } from "./command.ts";
import type { IpvsInfo } from "../backend.ts";

/**
 * The virtual servers with their real servers' connection counts. `-Sn` has the exact
 * settings, `-Ln` the counts:
 * `-A -t 10.0.0.1:443 -s rr -p 10800` and `  -> 192.168.0.1:6443  Masq  1  1  0`.
 */
export async function readVirtualServers(run: CommandRunner): Promise<VirtualServer[]> {
  const [saved, listed] = await Promise.all([
    runOrThrow(run, ["ipvsadm", "-Sn"], { tool: "ipvsadm -Sn" }),
    runOrThrow(run, ["ipvsadm", "-Ln"], { tool: "ipvsadm -Ln" }),
  ]);
  return withConnectionCounts(parseIpvsadmSave(saved), parseIpvsadmList(listed));
}

/** The virtual servers as `ipvsadm -Sn` prints them, without connection counts. */
export async function readSavedVirtualServers(run: CommandRunner): Promise<VirtualServer[]> {
  return parseIpvsadmSave(await runOrThrow(run, ["ipvsadm", "-Sn"], { tool: "ipvsadm -Sn" }));
}

/**
 * Every set `ipset save` prints, or only ours (`isOurSetName`) with `oursOnly`. Lines of other
 * sets are dropped before parsing, so a foreign set can never make the read fail:
 * `create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x046c7216`
 * `add KUBE-CLUSTER-IP 10.96.0.1,tcp:443`
 */
export async function readIpsets(run: CommandRunner, oursOnly = true): Promise<IpSet[]> {
  const text = await runOrThrow(run, ["ipset", "save"], { tool: "ipset save" });
  const kept = oursOnly
    ? text.split("\n").filter((line) => isOurSetName(line.trim().split(/\s+/)[1] ?? "")).join("\n")
    : text;
  return parseIpsetSave(kept);
}

const SAVE_PROGRAM: Record<IptablesFamily, string> = {
  ipv4: "iptables-save",
  ipv6: "ip6tables-save",
};

/**
 * Our chains (`isOurChain`: both modes') and the jumps into them of one family, one
 * `iptables-save -t TABLE` per table. Among its lines:
 * `:KUBE-SERVICES - [0:0]` and
 * `-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`.
 */
export async function readIptablesFamily(
  run: CommandRunner,
  family: IptablesFamily,
): Promise<IptablesFamilyState> {
  const program = SAVE_PROGRAM[family];
  const [nat, filter] = await Promise.all(
    (["nat", "filter"] as const).map((table) =>
      runOrThrow(run, [program, "-t", table], { tool: `${program} -t ${table}` })
    ),
  );
  return {
    nat: parseIptablesSave(nat, (name) => isOurChain("nat", name), "nat"),
    filter: parseIptablesSave(filter, (name) => isOurChain("filter", name), "filter"),
  };
}

/** One address of `ip -j addr` output (the fields used here). */
export interface AddrInfo {
  /** `inet` or `inet6`. */
  readonly family?: string;
  /** The address, e.g. `10.96.0.1`. */
  readonly local?: string;
  /** The prefix length, e.g. `32`. */
  readonly prefixlen?: number;
  /** `global`, `link` or `host`. */
  readonly scope?: string;
  /** Set on secondary IPv4 addresses. */
  readonly secondary?: boolean;
}

/** One device of `ip -j addr` output (the fields used here). */
export interface LinkInfo {
  /** The device name, e.g. `kube-ipvs0`. */
  readonly ifname?: string;
  /** Device flags, e.g. `["LOOPBACK", "UP"]`. */
  readonly flags?: readonly string[];
  /** The device's addresses, primaries first. */
  readonly addr_info?: readonly AddrInfo[];
}

/**
 * Parses `ip -j addr` output, e.g.
 * `[{"ifindex":3,"ifname":"kube-ipvs0","flags":["BROADCAST","NOARP"],"addr_info":[{"family":"inet","local":"10.96.0.1","prefixlen":32,"scope":"global"}]}]`.
 */
export function parseIpAddrJson(text: string): LinkInfo[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.trim() === "" ? "[]" : text);
  } catch (cause) {
    throw new Error(`Cannot parse 'ip -j addr' output: ${(cause as Error).message}`, { cause });
  }
  if (!Array.isArray(parsed)) throw new Error("Cannot parse 'ip -j addr' output: not a list");
  return parsed as LinkInfo[];
}

function canonical(address: string): string | undefined {
  return ipaddr.isValid(address) ? ipaddr.parse(address).toString() : undefined;
}

function isLinkLocalOrLoopback(info: AddrInfo, address: string): boolean {
  if (info.scope === "link" || info.scope === "host") return true;
  const range = ipaddr.parse(address).range();
  return range === "linkLocal" || range === "loopback";
}

/** The global addresses of one device, canonical, in the kernel's order. */
function globalAddresses(link: LinkInfo): { address: string; info: AddrInfo }[] {
  const result: { address: string; info: AddrInfo }[] = [];
  for (const info of link.addr_info ?? []) {
    if (info.family !== "inet" && info.family !== "inet6") continue;
    const address = canonical(info.local ?? "");
    if (address === undefined || isLinkLocalOrLoopback(info, address)) continue;
    result.push({ address, info });
  }
  return result;
}

/** The addresses bound on `device` with their prefix length (link-local ones are not ours). */
export function deviceAddresses(links: readonly LinkInfo[], device: string): BoundAddress[] {
  return links.filter((l) => l.ifname === device).flatMap((link) =>
    globalAddresses(link).map(({ address, info }) => ({
      device,
      address: `${address}/${info.prefixlen ?? (address.includes(":") ? 128 : 32)}`,
    }))
  );
}

/**
 * The node's addresses: every device but `kube-ipvs0` and loopback devices, without
 * loopback and link-local addresses; primaries first, otherwise in the kernel's order.
 */
export function nodeAddressesOf(links: readonly LinkInfo[]): string[] {
  const all = links
    .filter((l) => l.ifname !== IPVS_DEVICE && !(l.flags ?? []).includes("LOOPBACK"))
    .flatMap(globalAddresses);
  const primaries = all.filter((a) => a.info.secondary !== true).map((a) => a.address);
  const secondaries = all.filter((a) => a.info.secondary === true).map((a) => a.address);
  return [...new Set([...primaries, ...secondaries])];
}

/**
 * Whether `kube-ipvs0` exists and its addresses, from one `ip -j addr show dev kube-ipvs0`;
 * a missing device is an answer (`Device "kube-ipvs0" does not exist.`), not an error.
 */
export async function readIpvsDevice(
  run: CommandRunner,
): Promise<{ linkPresent: boolean; addresses: BoundAddress[] }> {
  const argv = ["ip", "-j", "addr", "show", "dev", IPVS_DEVICE];
  const result = await run(argv);
  if (result.code !== 0) {
    if (/does not exist/.test(result.stderr)) return { linkPresent: false, addresses: [] };
    throw new ToolError({ tool: "ip -j addr show", argv, result });
  }
  const links = parseIpAddrJson(result.stdout);
  return {
    linkPresent: links.some((l) => l.ifname === IPVS_DEVICE),
    addresses: deviceAddresses(links, IPVS_DEVICE),
  };
}

/** Every device's addresses, for {@linkcode nodeAddressesOf}. */
export async function readAllAddresses(run: CommandRunner): Promise<LinkInfo[]> {
  return parseIpAddrJson(
    await runOrThrow(run, ["ip", "-j", "addr", "show"], { tool: "ip -j addr" }),
  );
}

/**
 * The version and table size in the first line of `/proc/net/ip_vs` (`IP Virtual Server
 * version 1.2.1 (size=4096)`, the line `ipvsadm -Ln` prints); `undefined` for other text.
 *
 * @example
 * ```ts
 * parseIpvsProcHeader("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port ...\n");
 * // { version: "1.2.1", tableSize: 4096 }
 * ```
 */
export function parseIpvsProcHeader(text: string): IpvsInfo | undefined {
  const match = /^IP Virtual Server version (\d+\.\d+\.\d+) \(size=(\d+)\)/.exec(text);
  if (match === null) return undefined;
  return { version: match[1], tableSize: Number(match[2]) };
}
