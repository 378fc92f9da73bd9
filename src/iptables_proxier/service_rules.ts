/**
 * The rules of one service port in iptables mode, in kube-proxy's order
 * (`syncProxyRules` in `pkg/proxy/iptables/proxier.go`): the capture rules in KUBE-SERVICES,
 * KUBE-NODEPORTS and the filter chains, then the port's own KUBE-EXT, KUBE-FW, KUBE-SVC,
 * KUBE-SVL and KUBE-SEP chains. All text is in `iptables-save` form (`rule_text.ts`).
 *
 * @module
 */

import type { Service, ServicePort } from "../cluster/types.ts";
import type { ServiceEndpoint } from "../proxier/endpoints.ts";
import type { IptablesFamily } from "../state/types.ts";
import {
  comment,
  hostNet,
  joinHostPort,
  portMatch,
  probabilityFor,
  recentCheck,
  recentSet,
  rejectTarget,
  sourceMatch,
} from "./rule_text.ts";
import { endpointChain, portChains } from "./chain_names.ts";
import { type LocalDetector, localMatch, localMatchPrefix } from "../proxier/local_detector.ts";

/** Chains being filled, in the order they are first written. */
export type ChainRules = Map<string, string[]>;

/** Appends `rule` to `chain`, creating the chain at the end when it is new. */
export function append(chains: ChainRules, chain: string, rule: string): void {
  const rules = chains.get(chain);
  if (rules) rules.push(rule);
  else chains.set(chain, [rule]);
}

/** Declares `chain` (empty) if it is not declared yet. */
export function declare(chains: ChainRules, chain: string): void {
  if (!chains.has(chain)) chains.set(chain, []);
}

/** What a service port's rules are computed from. */
export interface PortInput {
  readonly family: IptablesFamily;
  readonly service: Service;
  readonly port: ServicePort;
  /** `namespace/name:port`, kube-proxy's `svcPortNameString`. */
  readonly name: string;
  readonly clusterIP: string;
  /** Endpoints for the Cluster policy (empty when no policy of the port is Cluster). */
  readonly cluster: readonly ServiceEndpoint[];
  /** Endpoints for the Local policy (empty when no policy of the port is Local). */
  readonly local: readonly ServiceEndpoint[];
  /** Whether the port has usable endpoints anywhere in the cluster. */
  readonly hasEndpoints: boolean;
  readonly externalIPs: readonly string[];
  readonly loadBalancerIPs: readonly string[];
  readonly sourceRanges: readonly string[];
  /** The node's primary address of this family (for "does a source range cover the node"). */
  readonly nodeIP: string | undefined;
  /** How pod traffic is told apart (`detectLocalMode`), undefined for kube-proxy's no-op detector. */
  readonly localDetector: LocalDetector | undefined;
  readonly masqueradeAll: boolean;
  /** Whether the port's health check node port is served (`needsHealthCheck`). */
  readonly healthCheckNodePort: number;
  /** kube-proxy's large cluster mode (over 1,000 endpoints): no comments on endpoint rules. */
  readonly largeCluster: boolean;
  /** Whether `cidr` contains `ip`. */
  readonly contains: (cidr: string, ip: string) => boolean;
}

/** The nat and filter chains being filled for one family. */
export interface Tables {
  readonly nat: ChainRules;
  readonly filter: ChainRules;
}

function externallyAccessible(p: PortInput): boolean {
  return p.port.nodePort !== 0 || p.loadBalancerIPs.length > 0 || p.externalIPs.length > 0;
}

/** Whether the external policy is Local (kube-proxy's `ExternalPolicyLocal`). */
export function externalPolicyLocal(p: Pick<PortInput, "service">, accessible: boolean): boolean {
  return accessible && p.service.externalTrafficPolicy === "Local";
}

interface Plan {
  readonly svc: string;
  readonly svl: string;
  readonly ext: string;
  readonly fw: string;
  readonly internalChain: string;
  readonly hasInternal: boolean;
  readonly hasExternal: boolean;
  readonly externalPolicyChain: string;
  readonly usesExt: boolean;
  readonly usesFW: boolean;
  readonly extLocal: boolean;
  /** REJECT/DROP and comment for internal and external traffic without endpoints. */
  readonly internalFilter?: { target: string; comment: string };
  readonly externalFilter?: { target: string; comment: string };
}

function planOf(p: PortInput): Plan {
  const proto = p.port.protocol;
  const { svc, svl, ext, fw } = portChains(p.name, proto);
  const accessible = externallyAccessible(p);
  const itpLocal = p.service.internalTrafficPolicy === "Local";
  const extLocal = externalPolicyLocal(p, accessible);
  const hasInternal = p.hasEndpoints && (!itpLocal || p.local.length > 0);
  const hasExternal = p.hasEndpoints && (!extLocal || p.local.length > 0);
  const none = { target: rejectTarget(p.family), comment: `${p.name} has no endpoints` };
  const noLocal = { target: "DROP", comment: `${p.name} has no local endpoints` };
  return {
    svc,
    svl,
    ext,
    fw,
    internalChain: itpLocal ? svl : svc,
    hasInternal,
    hasExternal,
    externalPolicyChain: extLocal ? svl : svc,
    usesExt: p.hasEndpoints && accessible,
    usesFW: p.hasEndpoints && p.loadBalancerIPs.length > 0 && p.sourceRanges.length > 0,
    extLocal,
    internalFilter: !p.hasEndpoints ? none : hasInternal ? undefined : noLocal,
    externalFilter: !p.hasEndpoints ? none : hasExternal ? undefined : noLocal,
  };
}

function writeCaptureRules(p: PortInput, plan: Plan, t: Tables): void {
  const proto = p.port.protocol;
  const port = p.port.port;
  if (plan.hasInternal) {
    append(
      t.nat,
      "KUBE-SERVICES",
      `${portMatch(p.clusterIP, proto, `${p.name} cluster IP`, port)} -j ${plan.internalChain}`,
    );
  } else {
    const f = plan.internalFilter!;
    append(
      t.filter,
      "KUBE-SERVICES",
      `${portMatch(p.clusterIP, proto, f.comment, port)} -j ${f.target}`,
    );
  }
  for (const ip of p.externalIPs) {
    if (p.hasEndpoints) {
      append(
        t.nat,
        "KUBE-SERVICES",
        `${portMatch(ip, proto, `${p.name} external IP`, port)} -j ${plan.ext}`,
      );
    }
    const f = plan.externalFilter;
    if (f) {
      append(
        t.filter,
        "KUBE-EXTERNAL-SERVICES",
        `${portMatch(ip, proto, f.comment, port)} -j ${f.target}`,
      );
    }
  }
  const lbTarget = plan.usesFW ? plan.fw : plan.ext;
  for (const ip of p.loadBalancerIPs) {
    if (p.hasEndpoints) {
      append(
        t.nat,
        "KUBE-SERVICES",
        `${portMatch(ip, proto, `${p.name} loadbalancer IP`, port)} -j ${lbTarget}`,
      );
    }
    if (plan.usesFW) {
      const text = `${p.name} traffic not accepted by ${plan.fw}`;
      append(t.filter, "KUBE-PROXY-FIREWALL", `${portMatch(ip, proto, text, port)} -j DROP`);
    }
  }
  if (plan.externalFilter) {
    const f = plan.externalFilter;
    for (const ip of p.loadBalancerIPs) {
      append(
        t.filter,
        "KUBE-EXTERNAL-SERVICES",
        `${portMatch(ip, proto, f.comment, port)} -j ${f.target}`,
      );
    }
  }
  writeNodePortRules(p, plan, t);
}

function writeNodePortRules(p: PortInput, plan: Plan, t: Tables): void {
  const proto = p.port.protocol;
  const nodePort = p.port.nodePort;
  if (nodePort !== 0) {
    if (p.hasEndpoints) {
      append(
        t.nat,
        "KUBE-NODEPORTS",
        `${portMatch(undefined, proto, p.name, nodePort)} -j ${plan.ext}`,
      );
    }
    const f = plan.externalFilter;
    if (f) {
      append(
        t.filter,
        "KUBE-EXTERNAL-SERVICES",
        `-p ${proto} ${comment(f.comment)} -m addrtype --dst-type LOCAL -m ${proto} ` +
          `--dport ${nodePort} -j ${f.target}`,
      );
    }
  }
  if (p.healthCheckNodePort !== 0) {
    const text = `${p.name} health check node port`;
    append(
      t.filter,
      "KUBE-NODEPORTS",
      `${portMatch(undefined, "tcp", text, p.healthCheckNodePort)} -j ACCEPT`,
    );
  }
}

/** Off-pod traffic to the cluster IP is masqueraded (`IfNotLocal()` of the detector). */
function writeInternalMasquerade(p: PortInput, plan: Plan, nat: ChainRules): void {
  if (!plan.hasInternal) return;
  const text = `${p.name} cluster IP`;
  if (p.masqueradeAll) {
    const match = portMatch(p.clusterIP, p.port.protocol, text, p.port.port);
    append(nat, plan.internalChain, `${match} -j KUBE-MARK-MASQ`);
  } else if (p.localDetector !== undefined) {
    const notLocal = localMatch(p.localDetector, false);
    const match = portMatch(p.clusterIP, p.port.protocol, text, p.port.port, notLocal.inInterface);
    append(nat, plan.internalChain, `${notLocal.source}${match} -j KUBE-MARK-MASQ`);
  }
}

function writeExternalChain(p: PortInput, plan: Plan, nat: ChainRules): void {
  if (!plan.usesExt) return;
  declare(nat, plan.ext);
  if (!plan.extLocal) {
    append(
      nat,
      plan.ext,
      `${comment(`masquerade traffic for ${p.name} external destinations`)} -j KUBE-MARK-MASQ`,
    );
  } else {
    if (p.localDetector !== undefined) {
      // Pod traffic to an external address skips the Local policy (`IfLocal()`).
      const text = `pod traffic for ${p.name} external destinations`;
      const local = localMatchPrefix(p.localDetector, true);
      append(nat, plan.ext, `${local}${comment(text)} -j ${plan.svc}`);
    }
    const masq = `masquerade LOCAL traffic for ${p.name} external destinations`;
    append(nat, plan.ext, `${comment(masq)} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`);
    const route = `route LOCAL traffic for ${p.name} external destinations`;
    append(nat, plan.ext, `${comment(route)} -m addrtype --src-type LOCAL -j ${plan.svc}`);
  }
  if (plan.hasExternal) append(nat, plan.ext, `-j ${plan.externalPolicyChain}`);
}

function writeFirewallChain(p: PortInput, plan: Plan, nat: ChainRules): void {
  if (!plan.usesFW) return;
  declare(nat, plan.fw);
  const lbComment = comment(`${p.name} loadbalancer IP`);
  let allowFromNode = false;
  for (const cidr of p.sourceRanges) {
    append(nat, plan.fw, `${sourceMatch(cidr)}${lbComment} -j ${plan.ext}`);
    if (p.nodeIP !== undefined && p.contains(cidr, p.nodeIP)) allowFromNode = true;
  }
  // A request from this node to a VIP bound locally loops back with the VIP as its source.
  if (allowFromNode) {
    for (const ip of p.loadBalancerIPs) {
      append(nat, plan.fw, `-s ${hostNet(ip)} ${lbComment} -j ${plan.ext}`);
    }
  }
  const dropped = `other traffic to ${p.name} will be dropped by KUBE-PROXY-FIREWALL`;
  append(nat, plan.fw, comment(dropped));
}

const sepNames = new WeakMap<PortInput, Map<string, string>>();

/** The endpoint chain of `ip:port`, hashed once per port and endpoint. */
function sepOf(p: PortInput, endpoint: string): string {
  let names = sepNames.get(p);
  if (!names) sepNames.set(p, names = new Map());
  let name = names.get(endpoint);
  if (name === undefined) {
    names.set(endpoint, name = endpointChain(p.name, p.port.protocol, endpoint));
  }
  return name;
}

function endpointComment(p: PortInput, text: string): string {
  return p.largeCluster ? "" : `${comment(text)} `;
}

/** kube-proxy's `writeServiceToEndpointRules`: affinity checks, then the random spread. */
function writeServiceToEndpoints(
  p: PortInput,
  chain: string,
  endpoints: readonly ServiceEndpoint[],
  nat: ChainRules,
): void {
  declare(nat, chain);
  const names = endpoints.map((ep) => joinHostPort(ep.address, ep.port));
  const seps = names.map((ep) => sepOf(p, ep));
  if (p.service.sessionAffinity === "ClientIP") {
    const seconds = p.service.sessionAffinityTimeoutSeconds;
    names.forEach((ep, i) => {
      const check = recentCheck(seps[i], seconds, p.family);
      append(nat, chain, `${endpointComment(p, `${p.name} -> ${ep}`)}${check} -j ${seps[i]}`);
    });
  }
  names.forEach((ep, i) => {
    const remaining = names.length - i;
    const spread = remaining > 1
      ? `-m statistic --mode random --probability ${probabilityFor(remaining)} `
      : "";
    append(nat, chain, `${endpointComment(p, `${p.name} -> ${ep}`)}${spread}-j ${seps[i]}`);
  });
}

function writeEndpointChains(p: PortInput, nat: ChainRules): void {
  const proto = p.port.protocol;
  const seen = new Set<string>();
  for (const ep of [...p.cluster, ...p.local]) {
    const name = joinHostPort(ep.address, ep.port);
    if (seen.has(name)) continue;
    seen.add(name);
    const sep = sepOf(p, name);
    declare(nat, sep);
    const note = endpointComment(p, p.name);
    append(nat, sep, `-s ${hostNet(ep.address)} ${note}-j KUBE-MARK-MASQ`);
    const affinity = p.service.sessionAffinity === "ClientIP" ? `${recentSet(sep, p.family)} ` : "";
    append(nat, sep, `-p ${proto} ${note}${affinity}-m ${proto} -j DNAT --to-destination ${name}`);
  }
}

/** Writes every rule and chain of one service port into `tables`. */
export function writeServicePort(p: PortInput, tables: Tables): void {
  const plan = planOf(p);
  writeCaptureRules(p, plan, tables);
  writeInternalMasquerade(p, plan, tables.nat);
  writeExternalChain(p, plan, tables.nat);
  writeFirewallChain(p, plan, tables.nat);
  if (p.cluster.length > 0) writeServiceToEndpoints(p, plan.svc, p.cluster, tables.nat);
  if (p.local.length > 0) writeServiceToEndpoints(p, plan.svl, p.local, tables.nat);
  writeEndpointChains(p, tables.nat);
}
