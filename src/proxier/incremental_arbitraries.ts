/**
 * fast-check generators for the incremental proxier's property test: small clusters drawn
 * from small pools of names and addresses, so that services collide (one cluster IP, node port
 * or external IP wanted twice), share set entries and bound addresses, and slices move
 * between services; and sequences of object changes to apply to them.
 *
 * @module
 */

import fc from "fast-check";
import type {
  ClusterSnapshot,
  Endpoint,
  EndpointSlice,
  Node,
  Protocol,
  Service,
  ServicePort,
} from "../cluster/types.ts";
import type { ProxyConfig } from "../config/types.ts";
import type { IptablesFamily } from "../state/types.ts";
import { compareIdentity } from "./incremental_changes.ts";
import { testConfig } from "./testing.ts";

const NAMESPACES = ["default", "kube-system"];
const SERVICE_NAMES = ["a", "b", "c", "d"];
const CLUSTER_IPS_V4 = ["10.96.0.1", "10.96.0.2", "10.96.0.3", "10.96.0.4", "10.96.0.5"];
const CLUSTER_IPS_V6 = ["fd00:96::1", "fd00:96::2"];
/** External and load balancer IPs; 192.168.0.10 is a node address, so it is never bound. */
const VIPS = ["203.0.113.1", "203.0.113.2", "192.168.0.10", "10.96.0.1", "2001:db8::1"];
const POD_IPS_V4 = ["10.244.0.1", "10.244.0.2", "10.244.1.1", "10.244.1.2"];
const POD_IPS_V6 = ["fd00:244::1", "fd00:244::2"];
const NODES = ["node-a", "node-b", ""];
const ZONES = ["zone-a", "zone-b"];
/** The families the kernel can program: unknown (a dry run), IPv4 only, or both. */
export const KERNEL_FAMILY_CHOICES: readonly (readonly IptablesFamily[])[] = [
  [],
  ["ipv4"],
  ["ipv4", "ipv6"],
];
/** This node's zone label and pod CIDRs: none, or one of a few. */
export const NODE_ZONE_CHOICES: readonly (string | undefined)[] = [undefined, "zone-a", "zone-b"];
export const POD_CIDR_CHOICES: readonly (readonly string[] | undefined)[] = [
  undefined,
  ["10.244.0.0/24"],
  ["10.244.0.0/24", "fd00:244::/64"],
];
/** The node's addresses: the node's name is node-a, its InternalIP first. */
export const NODE_IP_CHOICES: readonly (readonly string[])[] = [
  ["192.168.0.10"],
  ["192.168.0.10", "10.0.0.5"],
  ["192.168.0.10", "fd00::10"],
  ["fd00::10", "192.168.0.10"],
  ["192.168.0.10", "127.0.0.1", "fe80::1"],
  ["10.0.0.5"],
];

// Mostly TCP and two port names, so that slice ports often match service ports.
const protocol: fc.Arbitrary<Protocol> = fc.constantFrom("tcp", "tcp", "tcp", "tcp", "udp", "sctp");
const portName = fc.constantFrom("", "", "http");

const servicePort: fc.Arbitrary<ServicePort> = fc.record({
  name: portName,
  protocol,
  port: fc.constantFrom(53, 80, 443),
  targetPort: fc.constantFrom(8080, "http"),
  nodePort: fc.constantFrom(0, 30000, 30001),
});

const ingress = fc.record({
  ip: fc.constantFrom(...VIPS),
  ipMode: fc.constantFrom("VIP" as const, "VIP" as const, "Proxy" as const),
});

/** A service of any type, with a random identity from the pools. */
export const serviceArbitrary: fc.Arbitrary<Service> = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom(...SERVICE_NAMES),
  type: fc.constantFrom("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"),
  clusterIPs: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...CLUSTER_IPS_V4).map((ip) => [ip]) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(...CLUSTER_IPS_V4), fc.constantFrom(...CLUSTER_IPS_V6)),
    },
    { weight: 1, arbitrary: fc.constantFrom(...CLUSTER_IPS_V6).map((ip) => [ip]) },
    { weight: 1, arbitrary: fc.constant([]) },
  ),
  ports: fc.array(servicePort, { minLength: 1, maxLength: 3 }),
  externalIPs: fc.subarray(VIPS, { maxLength: 2 }),
  sessionAffinity: fc.constantFrom("None" as const, "ClientIP" as const),
  sessionAffinityTimeoutSeconds: fc.constantFrom(10800, 60),
  externalTrafficPolicy: fc.constantFrom("Cluster" as const, "Local" as const),
  internalTrafficPolicy: fc.constantFrom("Cluster" as const, "Local" as const),
  loadBalancerSourceRanges: fc.subarray(
    ["192.168.0.0/24", "198.51.100.0/24", "0.0.0.0/0", "2001:db8::/32", "10.0.0.5/32"],
    { maxLength: 2 },
  ),
  healthCheckNodePort: fc.constantFrom(0, 32000, 32001),
  loadBalancerIngress: fc.array(ingress, { maxLength: 2 }),
  source: fc.constant("generated"),
});

/** Topology hints: often none, so that a slice sometimes has them on every endpoint. */
const hintArbitrary = (names: readonly string[]) =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.subarray([...names], { minLength: 1 }) },
  );

function endpointArbitrary(ips: readonly string[]): fc.Arbitrary<Endpoint> {
  return fc.record({
    addresses: fc.constantFrom(...ips).map((ip) => [ip]),
    conditions: fc.record({
      ready: fc.constantFrom(true, true, false),
      serving: fc.boolean(),
      terminating: fc.boolean(),
    }),
    nodeName: fc.constantFrom(...NODES),
    zoneHints: hintArbitrary(ZONES),
    nodeHints: hintArbitrary(["node-a", "node-b"]),
  }).map(({ zoneHints, nodeHints, ...endpoint }) => ({
    // As parsed: a hint list is there only when the slice gives one.
    ...endpoint,
    ...(zoneHints ? { zoneHints } : {}),
    ...(nodeHints ? { nodeHints } : {}),
  }));
}

/** An EndpointSlice of a service from the pools (possibly one that does not exist). */
export const sliceArbitrary: fc.Arbitrary<EndpointSlice> = fc
  .record({
    namespace: fc.constantFrom(...NAMESPACES),
    serviceName: fc.constantFrom(...SERVICE_NAMES),
    suffix: fc.constantFrom("x", "y"),
    v6: fc.boolean(),
    endpoints: fc.array(fc.nat(), { maxLength: 4 }),
    ports: fc.array(
      fc.record({
        name: portName,
        protocol,
        port: fc.constantFrom(53, 8080, 8443),
      }),
      { minLength: 1, maxLength: 2 },
    ),
  })
  .chain((s) =>
    fc.array(endpointArbitrary(s.v6 ? POD_IPS_V6 : POD_IPS_V4), {
      minLength: s.endpoints.length,
      maxLength: s.endpoints.length,
    }).map((endpoints): EndpointSlice => ({
      namespace: s.namespace,
      // A slice's name is its service's plus a suffix, but a later version may relabel it.
      name: `${s.serviceName}-${s.suffix}`,
      serviceName: s.serviceName,
      addressType: s.v6 ? "IPv6" : "IPv4",
      endpoints,
      ports: s.ports,
      source: "generated",
    }))
  );

/** One change to the cluster or the node. */
export type Step =
  | { readonly kind: "upsertService"; readonly service: Service }
  | { readonly kind: "removeService"; readonly pick: number }
  | { readonly kind: "upsertSlice"; readonly slice: EndpointSlice }
  | { readonly kind: "sliceForService"; readonly pick: number; readonly slice: EndpointSlice }
  | { readonly kind: "relabelSlice"; readonly pick: number; readonly serviceName: string }
  | { readonly kind: "removeSlice"; readonly pick: number }
  | { readonly kind: "reissue"; readonly pick: number }
  | { readonly kind: "nodeIPs"; readonly choice: number }
  | { readonly kind: "node"; readonly zone: number; readonly podCIDRs: number }
  | { readonly kind: "kernel"; readonly choice: number };

/** A step: mostly object changes, sometimes the node's addresses or an object reissued. */
export const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: serviceArbitrary.map((service) => ({ kind: "upsertService", service }) as const),
  },
  { weight: 2, arbitrary: fc.nat().map((pick) => ({ kind: "removeService", pick }) as const) },
  {
    weight: 2,
    arbitrary: sliceArbitrary.map((slice) => ({ kind: "upsertSlice", slice }) as const),
  },
  {
    weight: 4,
    arbitrary: fc.record({ pick: fc.nat(), slice: sliceArbitrary })
      .map(({ pick, slice }) => ({ kind: "sliceForService", pick, slice }) as const),
  },
  {
    weight: 1,
    arbitrary: fc.record({ pick: fc.nat(), serviceName: fc.constantFrom(...SERVICE_NAMES) })
      .map(({ pick, serviceName }) => ({ kind: "relabelSlice", pick, serviceName }) as const),
  },
  { weight: 2, arbitrary: fc.nat().map((pick) => ({ kind: "removeSlice", pick }) as const) },
  { weight: 1, arbitrary: fc.nat().map((pick) => ({ kind: "reissue", pick }) as const) },
  {
    weight: 1,
    arbitrary: fc.nat(NODE_IP_CHOICES.length - 1).map((choice) =>
      ({ kind: "nodeIPs", choice }) as const
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      zone: fc.nat(NODE_ZONE_CHOICES.length - 1),
      podCIDRs: fc.nat(POD_CIDR_CHOICES.length - 1),
    }).map(({ zone, podCIDRs }) => ({ kind: "node", zone, podCIDRs }) as const),
  },
  {
    weight: 1,
    arbitrary: fc.nat(KERNEL_FAMILY_CHOICES.length - 1).map((choice) =>
      ({ kind: "kernel", choice }) as const
    ),
  },
);

/** Configs that change what the per-service output looks like. */
export const configArbitrary: fc.Arbitrary<ProxyConfig> = fc
  .record({
    scheduler: fc.constantFrom("rr", "mh"),
    nodePortAddresses: fc.constantFrom([], ["primary"], ["192.168.0.0/24"], [
      "10.0.0.0/8",
      "fd00::/64",
    ]),
    clusterCIDRs: fc.constantFrom([], ["10.244.0.0/16"], ["10.244.0.0/16", "fd00:244::/64"]),
    masqueradeAll: fc.boolean(),
    detectLocalMode: fc.constantFrom(
      "ClusterCIDR",
      "ClusterCIDR",
      "NodeCIDR",
      "BridgeInterface",
      "InterfaceNamePrefix",
    ),
    preferSameNode: fc.constantFrom(true, true, false),
  })
  .map((c) =>
    testConfig({
      nodePortAddresses: c.nodePortAddresses,
      clusterCIDRs: c.clusterCIDRs,
      detectLocalMode: c.detectLocalMode,
      detectLocal: { bridgeInterface: "cbr0", interfaceNamePrefix: "veth" },
      featureGates: { PreferSameTrafficDistribution: c.preferSameNode },
      ipvs: { scheduler: c.scheduler },
      iptables: { masqueradeAll: c.masqueradeAll },
    })
  );

/** This node's Node object for a choice of addresses, zone label and pod CIDRs. */
export function nodeObject(
  nodeIPs: readonly string[],
  zone?: string,
  podCIDRs?: readonly string[],
): Node {
  return {
    name: "node-a",
    addresses: nodeIPs.map((address) => ({ type: "InternalIP", address })),
    source: "generated",
    ...(zone !== undefined ? { zone } : {}),
    ...(podCIDRs !== undefined ? { podCIDRs } : {}),
  };
}

/**
 * `template` made a slice of `service`: its namespace and label, and one slice port per service
 * port (same name and protocol, the template's port number), so its endpoints serve.
 */
export function sliceFor(service: Service, template: EndpointSlice): EndpointSlice {
  const suffix = template.name.slice(template.name.lastIndexOf("-"));
  const port = template.ports[0]?.port ?? 8080;
  return {
    ...template,
    namespace: service.namespace,
    name: `${service.name}${suffix}`,
    serviceName: service.name,
    ports: service.ports.map((p) => ({ name: p.name, protocol: p.protocol, port })),
  };
}

/**
 * The cluster as a source keeps it: one object per identity, the same reference until it
 * changes, handed out sorted.
 */
export class ClusterModel {
  readonly services = new Map<string, Service>();
  readonly slices = new Map<string, EndpointSlice>();
  nodeIPs: readonly string[] = NODE_IP_CHOICES[0];
  zone: string | undefined = "zone-a";
  podCIDRs: readonly string[] | undefined = undefined;
  kernelFamilies: readonly IptablesFamily[] = [];

  /** Each of `slices` is made a slice of one of `services` (by position), when there is one. */
  constructor(services: Service[], slices: EndpointSlice[]) {
    for (const s of services) this.services.set(`${s.namespace}/${s.name}`, s);
    slices.forEach((s, i) => this.#setSlice(i < services.length ? sliceFor(services[i], s) : s));
  }

  #setSlice(slice: EndpointSlice): void {
    this.slices.set(`${slice.namespace}/${slice.name}`, slice);
  }

  /** Applies one change. */
  apply(step: Step): void {
    const pickFrom = <T>(map: Map<string, T>, pick: number) => [...map.keys()][pick % map.size];
    switch (step.kind) {
      case "upsertService":
        this.services.set(`${step.service.namespace}/${step.service.name}`, step.service);
        break;
      case "removeService":
        if (this.services.size > 0) this.services.delete(pickFrom(this.services, step.pick));
        break;
      case "upsertSlice":
        this.#setSlice(step.slice);
        break;
      case "sliceForService":
        if (this.services.size === 0) break;
        this.#setSlice(
          sliceFor(this.services.get(pickFrom(this.services, step.pick))!, step.slice),
        );
        break;
      case "relabelSlice": {
        if (this.slices.size === 0) break;
        const id = pickFrom(this.slices, step.pick);
        this.slices.set(id, { ...this.slices.get(id)!, serviceName: step.serviceName });
        break;
      }
      case "removeSlice":
        if (this.slices.size > 0) this.slices.delete(pickFrom(this.slices, step.pick));
        break;
      case "reissue": {
        // A source that hands out a new, equal object: found by the structural comparison.
        const all = [...this.services.values(), ...this.slices.values()];
        if (all.length === 0) break;
        const object = all[step.pick % all.length];
        const copy = structuredClone(object);
        const map = "endpoints" in object ? this.slices : this.services;
        (map as Map<string, unknown>).set(`${object.namespace}/${object.name}`, copy);
        break;
      }
      case "nodeIPs":
        this.nodeIPs = NODE_IP_CHOICES[step.choice];
        break;
      case "node":
        this.zone = NODE_ZONE_CHOICES[step.zone];
        this.podCIDRs = POD_CIDR_CHOICES[step.podCIDRs];
        break;
      case "kernel":
        this.kernelFamilies = KERNEL_FAMILY_CHOICES[step.choice];
        break;
    }
  }

  /** The snapshot a source would hand out now. */
  snapshot(): ClusterSnapshot {
    return {
      services: [...this.services.values()].sort(compareIdentity),
      endpointSlices: [...this.slices.values()].sort(compareIdentity),
      nodes: [nodeObject(this.nodeIPs, this.zone, this.podCIDRs)],
    };
  }
}
