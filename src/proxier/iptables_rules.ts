/**
 * The iptables rules of kube-proxy's IPVS mode (REFERENCE.md section 3), for one family.
 *
 * Rules are written in the exact form `iptables-save` prints them (measured with iptables
 * 1.8.9, nf_tables and legacy), e.g. `--or-mark 0x4000` is saved as `--set-xmark 0x4000/0x4000`
 * and `! -s` moves in front of the matches. Comparing the desired rules with the kernel's is
 * then plain string equality, which is what lets a sync with nothing to change write nothing.
 *
 * @module
 */

import type { ProxyConfig } from "../config/types.ts";
import type { Protocol } from "../cluster/types.ts";
import type {
  IptablesChain,
  IptablesFamily,
  IptablesFamilyState,
  JumpRule,
} from "../state/types.ts";
import { IPSET_DEFINITIONS, type IpSetEntries, ipsetName, SET, type SetName } from "./ipsets.ts";
import { type LocalDetector, localMatchPrefix } from "./local_detector.ts";

/** Our nat chains, in kube-proxy's order. */
export const NAT_CHAINS = [
  "KUBE-SERVICES",
  "KUBE-POSTROUTING",
  "KUBE-NODE-PORT",
  "KUBE-LOAD-BALANCER",
  "KUBE-MARK-MASQ",
] as const;

/** Our filter chains, in kube-proxy's order. */
export const FILTER_CHAINS = [
  "KUBE-FORWARD",
  "KUBE-NODE-PORT",
  "KUBE-PROXY-FIREWALL",
  "KUBE-SOURCE-RANGES-FIREWALL",
  "KUBE-IPVS-FILTER",
  "KUBE-IPVS-OUT-FILTER",
] as const;

function jump(chain: string, comment: string, target: string): JumpRule {
  return { chain, rule: `-m comment --comment "${comment}" -j ${target}` };
}

/**
 * The rules in built-in chains that lead into ours, in their final order at the top of each
 * built-in chain. kube-proxy prepends them one by one, so this is its call order reversed
 * per chain: INPUT ends up IPVS filter, firewall, health check.
 */
export const NAT_JUMPS: readonly JumpRule[] = [
  jump("PREROUTING", "kubernetes service portals", "KUBE-SERVICES"),
  jump("OUTPUT", "kubernetes service portals", "KUBE-SERVICES"),
  jump("POSTROUTING", "kubernetes postrouting rules", "KUBE-POSTROUTING"),
];

/** The filter-table jumps, in final order per built-in chain. */
export const FILTER_JUMPS: readonly JumpRule[] = [
  jump("INPUT", "kubernetes ipvs access filter", "KUBE-IPVS-FILTER"),
  jump("INPUT", "kube-proxy firewall rules", "KUBE-PROXY-FIREWALL"),
  jump("INPUT", "kubernetes health check rules", "KUBE-NODE-PORT"),
  jump("FORWARD", "kube-proxy firewall rules", "KUBE-PROXY-FIREWALL"),
  jump("FORWARD", "kubernetes forwarding rules", "KUBE-FORWARD"),
  jump("OUTPUT", "kubernetes ipvs access filter", "KUBE-IPVS-OUT-FILTER"),
];

/** A load balancer VIP that nodes must not reach (no source range covers the node IP). */
export interface NoNodeAccessEntry {
  readonly ip: string;
  readonly protocol: Protocol;
  readonly port: number;
}

/** Everything the rules depend on besides the config. */
export interface RuleInputs {
  readonly family: IptablesFamily;
  readonly config: ProxyConfig;
  /** Which sets have entries (the rules of an empty set are left out). */
  readonly sets: Pick<IpSetEntries, "isEmpty">;
  readonly noNodeAccess: readonly NoNodeAccessEntry[];
  /** How pod traffic is told apart in this family; undefined for none (`localDetectorFor`). */
  readonly localDetector: LocalDetector | undefined;
}

/** A chain being filled: rules are appended in kube-proxy's emission order. */
type ChainRules = Map<string, string[]>;

function newChains(names: readonly string[]): ChainRules {
  return new Map(names.map((name) => [name, []]));
}

/** A comment argument the way iptables-save prints it: double-quoted, `'` as `\\'`. */
function quoted(comment: string): string {
  return `"${comment.replaceAll("'", "\\'")}"`;
}

function commentOf(set: SetName): string {
  return quoted(IPSET_DEFINITIONS.find((d) => d.name === set)!.comment);
}

const PROTOCOL_NUMBER: Record<Protocol, number> = { tcp: 6, udp: 17, sctp: 132 };

/** `ipsetWithIptablesChain` of kube-proxy: set, table, from chain, target, match, protocol. */
const SET_JUMPS: readonly {
  set: SetName;
  table: "nat" | "filter";
  from: string;
  to: string;
  match: string;
  protocol?: Protocol;
}[] = [
  {
    set: SET.loopBack,
    table: "nat",
    from: "KUBE-POSTROUTING",
    to: "MASQUERADE",
    match: "dst,dst,src",
  },
  {
    set: SET.loadBalancer,
    table: "nat",
    from: "KUBE-SERVICES",
    to: "KUBE-LOAD-BALANCER",
    match: "dst,dst",
  },
  {
    set: SET.loadBalancerLocal,
    table: "nat",
    from: "KUBE-LOAD-BALANCER",
    to: "RETURN",
    match: "dst,dst",
  },
  {
    set: SET.nodePortLocalTCP,
    table: "nat",
    from: "KUBE-NODE-PORT",
    to: "RETURN",
    match: "dst",
    protocol: "tcp",
  },
  {
    set: SET.nodePortTCP,
    table: "nat",
    from: "KUBE-NODE-PORT",
    to: "KUBE-MARK-MASQ",
    match: "dst",
    protocol: "tcp",
  },
  {
    set: SET.nodePortLocalUDP,
    table: "nat",
    from: "KUBE-NODE-PORT",
    to: "RETURN",
    match: "dst",
    protocol: "udp",
  },
  {
    set: SET.nodePortUDP,
    table: "nat",
    from: "KUBE-NODE-PORT",
    to: "KUBE-MARK-MASQ",
    match: "dst",
    protocol: "udp",
  },
  {
    set: SET.nodePortLocalSCTP,
    table: "nat",
    from: "KUBE-NODE-PORT",
    to: "RETURN",
    match: "dst,dst",
    protocol: "sctp",
  },
  {
    set: SET.nodePortSCTP,
    table: "nat",
    from: "KUBE-NODE-PORT",
    to: "KUBE-MARK-MASQ",
    match: "dst,dst",
    protocol: "sctp",
  },
  {
    set: SET.loadBalancerFW,
    table: "filter",
    from: "KUBE-PROXY-FIREWALL",
    to: "KUBE-SOURCE-RANGES-FIREWALL",
    match: "dst,dst",
  },
  {
    set: SET.loadBalancerSourceCIDR,
    table: "filter",
    from: "KUBE-SOURCE-RANGES-FIREWALL",
    to: "RETURN",
    match: "dst,dst,src",
  },
  {
    set: SET.loadBalancerSourceIP,
    table: "filter",
    from: "KUBE-SOURCE-RANGES-FIREWALL",
    to: "RETURN",
    match: "dst,dst,src",
  },
];

function matchSet(inputs: RuleInputs, set: SetName, match: string): string {
  return `-m set --match-set ${ipsetName(set, inputs.family)} ${match}`;
}

function commentedMatchSet(inputs: RuleInputs, set: SetName, match: string): string {
  return `-m comment --comment ${commentOf(set)} ${matchSet(inputs, set, match)}`;
}

function writeSetJumps(inputs: RuleInputs, nat: ChainRules, filter: ChainRules): void {
  for (const jumpDef of SET_JUMPS) {
    if (inputs.sets.isEmpty(jumpDef.set)) continue;
    const protocol = jumpDef.protocol ? `-p ${jumpDef.protocol} ` : "";
    const rule = `${protocol}${
      commentedMatchSet(inputs, jumpDef.set, jumpDef.match)
    } -j ${jumpDef.to}`;
    (jumpDef.table === "nat" ? nat : filter).get(jumpDef.from)!.push(rule);
  }
}

/**
 * The three forms of the cluster-IP masquerade rule (`writeIptablesRules` in
 * pkg/proxy/ipvs/proxier.go): masqueradeAll; off-pod traffic by the local detector
 * (`IfNotLocal()`: `! -s CIDR`, `! -i br0`, `! -i veth+`); or, with no detector, by source.
 */
function clusterIPMasqueradeRule(inputs: RuleInputs): string {
  const match = commentedMatchSet(inputs, SET.clusterIP, "dst,dst");
  if (inputs.config.iptables.masqueradeAll) return `${match} -j KUBE-MARK-MASQ`;
  if (inputs.localDetector !== undefined) {
    return `${localMatchPrefix(inputs.localDetector, false)}${match} -j KUBE-MARK-MASQ`;
  }
  // Without a way to tell local traffic, masquerade node-originated traffic whose source is
  // a VIP (the VIPs sit on kube-ipvs0, so the kernel may pick one as source).
  return `${commentedMatchSet(inputs, SET.clusterIP, "src,dst")} -j KUBE-MARK-MASQ`;
}

function writeExternalIPRules(inputs: RuleInputs, services: string[]): void {
  const rules = (set: SetName) => {
    const match = commentedMatchSet(inputs, set, "dst,dst");
    // From off the machine (not a bridge port, not a local source), or to a local address.
    return [
      `${match} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT`,
      `${match} -m addrtype --dst-type LOCAL -j ACCEPT`,
    ];
  };
  if (!inputs.sets.isEmpty(SET.externalIP)) {
    services.push(`${commentedMatchSet(inputs, SET.externalIP, "dst,dst")} -j KUBE-MARK-MASQ`);
    services.push(...rules(SET.externalIP));
  }
  if (!inputs.sets.isEmpty(SET.externalIPLocal)) services.push(...rules(SET.externalIPLocal));
}

function hostCIDR(ip: string): string {
  return ip.includes(":") ? `${ip}/128` : `${ip}/32`;
}

/**
 * iptables-save prints the ipvs match as `--vproto` first and `--vaddr` without a host-sized
 * prefix length (measured with iptables 1.8.9, nf_tables and legacy, IPv4 and IPv6).
 */
function writeOutFilterRules(inputs: RuleInputs, outFilter: string[]): void {
  for (const entry of inputs.noNodeAccess) {
    outFilter.push(
      `-s ${hostCIDR(entry.ip)} -m ipvs --vproto ${PROTOCOL_NUMBER[entry.protocol]} ` +
        `--vaddr ${entry.ip} --vport ${entry.port} -j DROP`,
    );
  }
}

function writeIpvsFilterRules(inputs: RuleInputs, ipvsFilter: string[]): void {
  const returnFor = (set: SetName, match: string) => `${matchSet(inputs, set, match)} -j RETURN`;
  ipvsFilter.push(
    returnFor(SET.loadBalancer, "dst,dst"),
    returnFor(SET.clusterIP, "dst,dst"),
    returnFor(SET.externalIP, "dst,dst"),
    returnFor(SET.externalIPLocal, "dst,dst"),
    returnFor(SET.healthCheckNodePort, "dst"),
  );
  const reject = inputs.family === "ipv6" ? "icmp6-port-unreachable" : "icmp-port-unreachable";
  ipvsFilter.push(
    `-m conntrack --ctstate NEW ${matchSet(inputs, SET.ipvsIPs, "dst")} ` +
      `-j REJECT --reject-with ${reject}`,
  );
}

function masqueradeMark(config: ProxyConfig): string {
  return `0x${(2 ** config.iptables.masqueradeBit).toString(16)}`;
}

function writeMasqueradeChains(inputs: RuleInputs, nat: ChainRules): void {
  const mark = masqueradeMark(inputs.config);
  nat.get("KUBE-POSTROUTING")!.push(
    `-m mark ! --mark ${mark}/${mark} -j RETURN`,
    // Clear the mark so a packet that traverses the stack again is not masqueraded twice.
    `-j MARK --set-xmark ${mark}/0x0`,
    `-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`,
  );
  nat.get("KUBE-MARK-MASQ")!.push(`-j MARK --set-xmark ${mark}/${mark}`);
}

function writeForwardRules(inputs: RuleInputs, filter: ChainRules): void {
  const mark = masqueradeMark(inputs.config);
  filter.get("KUBE-FORWARD")!.push(
    `-m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
    `-m comment --comment "kubernetes forwarding conntrack rule" ` +
      `-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  );
  filter.get("KUBE-NODE-PORT")!.push(
    `${commentedMatchSet(inputs, SET.healthCheckNodePort, "dst")} -j ACCEPT`,
  );
}

function writeServicesChain(inputs: RuleInputs, nat: ChainRules): void {
  const services = nat.get("KUBE-SERVICES")!;
  if (!inputs.sets.isEmpty(SET.clusterIP)) services.push(clusterIPMasqueradeRule(inputs));
  writeExternalIPRules(inputs, services);
  services.push("-m addrtype --dst-type LOCAL -j KUBE-NODE-PORT");
  nat.get("KUBE-LOAD-BALANCER")!.push("-j KUBE-MARK-MASQ");
}

/** Accept traffic to virtual servers at the end of KUBE-SERVICES, so no later rule drops it. */
function writeAcceptIpvsTraffic(inputs: RuleInputs, nat: ChainRules): void {
  for (const set of [SET.clusterIP, SET.loadBalancer]) {
    if (inputs.sets.isEmpty(set)) continue;
    nat.get("KUBE-SERVICES")!.push(`${matchSet(inputs, set, "dst,dst")} -j ACCEPT`);
  }
}

function toChains(chains: ChainRules): IptablesChain[] {
  return [...chains].map(([name, rules]) => ({ name, rules }));
}

/** The nat and filter content of one family, in kube-proxy's rule order. */
export function buildIptablesRules(inputs: RuleInputs): IptablesFamilyState {
  const nat = newChains(NAT_CHAINS);
  const filter = newChains(FILTER_CHAINS);
  // Connections to localhost leave the service chain early (NodePorts on loopback).
  const loopback = inputs.family === "ipv6" ? "::1/128" : "127.0.0.0/8";
  nat.get("KUBE-SERVICES")!.push(`-s ${loopback} -j RETURN`);
  writeSetJumps(inputs, nat, filter);
  writeServicesChain(inputs, nat);
  filter.get("KUBE-SOURCE-RANGES-FIREWALL")!.push("-j DROP");
  writeOutFilterRules(inputs, filter.get("KUBE-IPVS-OUT-FILTER")!);
  writeAcceptIpvsTraffic(inputs, nat);
  writeForwardRules(inputs, filter);
  writeIpvsFilterRules(inputs, filter.get("KUBE-IPVS-FILTER")!);
  writeMasqueradeChains(inputs, nat);
  return {
    nat: { chains: toChains(nat), jumps: NAT_JUMPS },
    filter: { chains: toChains(filter), jumps: FILTER_JUMPS },
  };
}
