/**
 * The fields of a `v1` Service and a `discovery.k8s.io/v1` EndpointSlice as the API defines
 * them, to name the ones a manifest has that the API does not (a misspelt `targetPrt`, an
 * `externalTrafficPolicy` one level too deep): Kubernetes' strict decoding refuses them, and a
 * proxy that silently drops them programs something other than what the author meant.
 *
 * @module
 */

import { type Fields, isFields } from "./fields.ts";

const OBJECT_META = [
  "name",
  "generateName",
  "namespace",
  "selfLink",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "managedFields",
];

/** Allowed keys by path; `[]` marks the items of a list. Paths not listed are not checked. */
type Schema = Readonly<Record<string, readonly string[]>>;

const SERVICE: Schema = {
  "": ["apiVersion", "kind", "metadata", "spec", "status"],
  metadata: OBJECT_META,
  spec: [
    "ports",
    "selector",
    "clusterIP",
    "clusterIPs",
    "type",
    "externalIPs",
    "sessionAffinity",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
    "externalName",
    "externalTrafficPolicy",
    "healthCheckNodePort",
    "publishNotReadyAddresses",
    "sessionAffinityConfig",
    "ipFamilies",
    "ipFamilyPolicy",
    "allocateLoadBalancerNodePorts",
    "loadBalancerClass",
    "internalTrafficPolicy",
    "trafficDistribution",
  ],
  "spec.ports[]": ["name", "protocol", "appProtocol", "port", "targetPort", "nodePort"],
  "spec.sessionAffinityConfig": ["clientIP"],
  "spec.sessionAffinityConfig.clientIP": ["timeoutSeconds"],
  status: ["loadBalancer", "conditions"],
  "status.loadBalancer": ["ingress"],
  "status.loadBalancer.ingress[]": ["ip", "hostname", "ipMode", "ports"],
};

const ENDPOINT_SLICE: Schema = {
  "": ["apiVersion", "kind", "metadata", "addressType", "endpoints", "ports"],
  metadata: OBJECT_META,
  "endpoints[]": [
    "addresses",
    "conditions",
    "hostname",
    "targetRef",
    "nodeName",
    "zone",
    "hints",
    "deprecatedTopology",
  ],
  "endpoints[].conditions": ["ready", "serving", "terminating"],
  "endpoints[].hints": ["forZones", "forNodes"],
  "endpoints[].hints.forZones[]": ["name"],
  "endpoints[].hints.forNodes[]": ["name"],
  "ports[]": ["name", "protocol", "port", "appProtocol"],
};

const SCHEMAS: Readonly<Record<string, Schema>> = {
  Service: SERVICE,
  EndpointSlice: ENDPOINT_SLICE,
};

/**
 * The paths of the fields of `object` that a `kind` does not have, e.g.
 * `["spec.ports[0].targetPrt"]`; empty for kinds without a schema here.
 *
 * @example
 * ```ts
 * import { unknownFields } from "./known_fields.ts";
 * unknownFields("Service", { spec: { ports: [{ port: 80, targetPrt: 8080 }] } });
 * // ["spec.ports[0].targetPrt"]
 * ```
 */
export function unknownFields(kind: string, object: Fields): string[] {
  const schema = SCHEMAS[kind];
  if (schema === undefined) return [];
  const found: string[] = [];
  walk(schema, object, "", "", found);
  return found;
}

/** Checks the keys of `value` at schema path `key` (written `path` with indexes). */
function walk(schema: Schema, value: Fields, key: string, path: string, found: string[]): void {
  const allowed = schema[key];
  if (allowed === undefined) return;
  for (const [name, child] of Object.entries(value)) {
    const childKey = key === "" ? name : `${key}.${name}`;
    const childPath = path === "" ? name : `${path}.${name}`;
    if (!allowed.includes(name)) {
      found.push(childPath);
      continue;
    }
    if (isFields(child)) walk(schema, child, childKey, childPath, found);
    else if (Array.isArray(child)) {
      child.forEach((item, i) => {
        if (isFields(item)) walk(schema, item, `${childKey}[]`, `${childPath}[${i}]`, found);
      });
    }
  }
}
