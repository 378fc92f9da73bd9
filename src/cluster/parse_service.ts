/**
 * A `v1` Service's body (everything after its name and namespace), normalised to
 * {@link Service}. Every check throws a {@link FieldError}; the caller skips the Service whole.
 *
 * @module
 */

import {
  enumAt,
  fail,
  FieldError,
  type Fields,
  fieldsAt,
  integerAt,
  isFields,
  listAt,
  stringAt,
  stringListAt,
} from "./fields.ts";
import { parseServicePorts } from "./parse_service_ports.ts";
import type { IpFamily, LoadBalancerIngress, Service, ServiceType } from "./types.ts";
import { canonicalCidr, canonicalIp, ipFamilyOf, specialIpReason } from "./validate.ts";

const SERVICE_TYPES: readonly ServiceType[] = [
  "ClusterIP",
  "NodePort",
  "LoadBalancer",
  "ExternalName",
];
const DEFAULT_AFFINITY_TIMEOUT = 10800;

/** Normalises a Service whose identity has already been read and checked. */
export function parseServiceBody(
  obj: Fields,
  identity: { readonly namespace: string; readonly name: string; readonly source: string },
): Service {
  const spec = fieldsAt(obj, "spec", "") ?? {};
  const type = enumAt(spec, "type", "spec", SERVICE_TYPES, "ClusterIP");
  const headless = type !== "ExternalName" && isHeadless(spec);
  const clusterIPs = type === "ExternalName" ? [] : clusterIPsOf(spec, type);
  const portList = listAt(spec, "ports", "spec");
  if (portList.length === 0 && !headless && type !== "ExternalName") {
    throw new FieldError(
      "spec.ports",
      "must hold at least one port (only headless and ExternalName services may have none)",
    );
  }
  const affinity = sessionAffinityOf(spec);
  return {
    ...identity,
    type,
    clusterIPs,
    ports: parseServicePorts(portList, type),
    externalIPs: externalIPsOf(spec),
    sessionAffinity: affinity.mode,
    sessionAffinityTimeoutSeconds: affinity.timeout,
    externalTrafficPolicy: enumAt(
      spec,
      "externalTrafficPolicy",
      "spec",
      ["Cluster", "Local"],
      "Cluster",
    ),
    internalTrafficPolicy: enumAt(
      spec,
      "internalTrafficPolicy",
      "spec",
      ["Cluster", "Local"],
      "Cluster",
    ),
    loadBalancerSourceRanges: sourceRangesOf(spec),
    healthCheckNodePort: integerAt(spec, "healthCheckNodePort", "spec", { min: 0, max: 65535 }) ??
      0,
    loadBalancerIngress: ingressOf(obj),
    source: identity.source,
  };
}

function isHeadless(spec: Fields): boolean {
  const list = stringListAt(spec, "clusterIPs", "spec");
  return (list[0] ?? stringAt(spec, "clusterIP", "spec")) === "None";
}

/**
 * `spec.clusterIPs` (or the older single `spec.clusterIP`): "None" means headless (no IPs), ""
 * means not yet allocated (no IPs); two IPs must be of different families and agree with
 * `spec.ipFamilies`.
 */
function clusterIPsOf(spec: Fields, type: ServiceType): string[] {
  const single = stringAt(spec, "clusterIP", "spec") ?? "";
  const list = stringListAt(spec, "clusterIPs", "spec");
  const same = (a: string, b: string) => (canonicalIp(a) ?? a) === (canonicalIp(b) ?? b);
  if (list.length > 0 && single !== "" && !same(single, list[0])) {
    fail("spec.clusterIP", `must equal spec.clusterIPs[0] (${JSON.stringify(list[0])})`, single);
  }
  const raw = list.length > 0 ? list : single !== "" ? [single] : [];
  const path = (i: number) => list.length > 0 ? `spec.clusterIPs[${i}]` : "spec.clusterIP";
  if (raw.length > 2) {
    fail("spec.clusterIPs", "may hold at most two addresses, one per family", raw);
  }
  if (raw[0] === "None") {
    if (raw.length > 1) fail(path(1), 'must not be set when spec.clusterIPs[0] is "None"', raw[1]);
    if (type !== "ClusterIP") {
      fail(path(0), 'may be "None" (headless) only when spec.type is ClusterIP', "None");
    }
    return [];
  }
  const ips = raw.map((value, i) =>
    canonicalIp(value) ?? fail(path(i), "must be a valid IP address", value)
  );
  if (ips.length === 2 && ipFamilyOf(ips[0]) === ipFamilyOf(ips[1])) {
    fail(path(1), "must be of the other IP family than spec.clusterIPs[0] (dual-stack)", raw[1]);
  }
  checkIpFamilies(spec, ips, raw, path);
  return ips;
}

function checkIpFamilies(
  spec: Fields,
  ips: readonly string[],
  raw: readonly string[],
  path: (i: number) => string,
): void {
  const families = stringListAt(spec, "ipFamilies", "spec");
  if (families.length > 2) fail("spec.ipFamilies", "may hold at most two families", families);
  families.forEach((family, i) => {
    if (family !== "IPv4" && family !== "IPv6") {
      fail(`spec.ipFamilies[${i}]`, 'must be "IPv4" or "IPv6"', family);
    }
    if (i === 1 && family === families[0]) {
      fail("spec.ipFamilies[1]", "must differ from spec.ipFamilies[0]", family);
    }
  });
  ips.forEach((ip, i) => {
    const family: IpFamily = ipFamilyOf(ip);
    if (i < families.length && families[i] !== family) {
      fail(path(i), `is an ${family} address but spec.ipFamilies[${i}] is ${families[i]}`, raw[i]);
    }
  });
}

function externalIPsOf(spec: Fields): string[] {
  return stringListAt(spec, "externalIPs", "spec").map((value, i) => {
    const field = `spec.externalIPs[${i}]`;
    const ip = canonicalIp(value) ?? fail(field, "must be a valid IP address", value);
    const special = specialIpReason(ip);
    return special === undefined ? ip : fail(field, special, value);
  });
}

/** Only read for ClientIP: with None the proxier ignores the config, so it cannot skip the Service. */
function sessionAffinityOf(spec: Fields): { mode: "None" | "ClientIP"; timeout: number } {
  const mode = enumAt(spec, "sessionAffinity", "spec", ["None", "ClientIP"], "None");
  if (mode === "None") return { mode, timeout: DEFAULT_AFFINITY_TIMEOUT };
  const config = fieldsAt(spec, "sessionAffinityConfig", "spec");
  const clientIP = config && fieldsAt(config, "clientIP", "spec.sessionAffinityConfig");
  const timeout = clientIP &&
    integerAt(clientIP, "timeoutSeconds", "spec.sessionAffinityConfig.clientIP", {
      min: 1,
      max: 86400,
    });
  return { mode, timeout: timeout ?? DEFAULT_AFFINITY_TIMEOUT };
}

/**
 * `spec.loadBalancerSourceRanges`. The older `service.beta.kubernetes.io/load-balancer-source-ranges`
 * annotation is for cloud providers' load balancers; kube-proxy never reads it, and neither does
 * this proxy (it would install DROP rules kube-proxy does not).
 */
function sourceRangesOf(spec: Fields): string[] {
  const ranges = stringListAt(spec, "loadBalancerSourceRanges", "spec");
  return ranges.map((value, i) => cidrOrFail(value, `spec.loadBalancerSourceRanges[${i}]`));
}

/** Kubernetes trims spaces around each range before parsing it. */
function cidrOrFail(value: string, field: string): string {
  return canonicalCidr(value.trim()) ??
    fail(field, "must be a CIDR such as 192.168.0.0/16 or fd00::/64", value);
}

/** `status.loadBalancer.ingress`; entries with only a hostname carry no VIP and are dropped. */
function ingressOf(obj: Fields): LoadBalancerIngress[] {
  const status = fieldsAt(obj, "status", "");
  const lb = status && fieldsAt(status, "loadBalancer", "status");
  const list = lb ? listAt(lb, "ingress", "status.loadBalancer") : [];
  const result: LoadBalancerIngress[] = [];
  list.forEach((raw, i) => {
    const path = `status.loadBalancer.ingress[${i}]`;
    if (!isFields(raw)) fail(path, "must be a mapping", raw);
    const value = stringAt(raw, "ip", path);
    if (value === undefined || value === "") return;
    const ip = canonicalIp(value) ?? fail(`${path}.ip`, "must be a valid IP address", value);
    result.push({ ip, ipMode: enumAt(raw, "ipMode", path, ["VIP", "Proxy"], "VIP") });
  });
  return result;
}
