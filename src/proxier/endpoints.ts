/**
 * A service port's endpoints as kube-proxy's `EndpointSliceCache` collects them (every
 * endpoint of the family with an address, one per `ip:port`), and the simple categorisation
 * without topology: ready endpoints first, serving-and-terminating ones only when none is
 * ready, and the node-local subset. `topology.ts` does `CategorizeEndpoints` in full.
 *
 * @module
 */

import type {
  ClusterSnapshot,
  Endpoint,
  EndpointSlice,
  IpFamily,
  Service,
  ServicePort,
} from "../cluster/types.ts";

/** One usable endpoint of a service port: an address and the port to send to. */
export interface ServiceEndpoint {
  readonly address: string;
  readonly port: number;
  /** Whether it runs on this node. */
  readonly local: boolean;
}

/** The endpoints of one service port, split the way traffic policies need them. */
export interface CategorizedEndpoints {
  /** Every usable endpoint (for Cluster traffic policies). */
  readonly all: readonly ServiceEndpoint[];
  /** The usable endpoints on this node (for Local traffic policies). */
  readonly local: readonly ServiceEndpoint[];
  /**
   * Every endpoint on this node whatever its conditions: kube-proxy's IPVS sync fills
   * `KUBE-LOOP-BACK` from its endpoints map, which holds them all, with only `IsLocal()`
   * checked (`syncProxyRules` in pkg/proxy/ipvs/proxier.go).
   */
  readonly everyLocal: readonly ServiceEndpoint[];
}

/** EndpointSlices grouped by `namespace/serviceName` and address type, built once per sync. */
export class EndpointSliceIndex {
  readonly #slices = new Map<string, EndpointSlice[]>();

  constructor(snapshot: ClusterSnapshot) {
    for (const slice of snapshot.endpointSlices) {
      const key = EndpointSliceIndex.#key(slice.namespace, slice.serviceName, slice.addressType);
      const list = this.#slices.get(key);
      if (list) list.push(slice);
      else this.#slices.set(key, [slice]);
    }
  }

  static #key(namespace: string, service: string, addressType: string): string {
    return `${namespace}/${service}/${addressType}`;
  }

  /** The slices of a service for one family. */
  slicesFor(service: Service, family: IpFamily): readonly EndpointSlice[] {
    return this.#slices.get(EndpointSliceIndex.#key(service.namespace, service.name, family)) ??
      [];
  }
}

/** One endpoint of kube-proxy's endpoints map: its conditions and topology hints too. */
export interface Candidate extends ServiceEndpoint {
  readonly ready: boolean;
  readonly terminating: boolean;
  /** Serving and terminating: usable when no endpoint is ready. */
  readonly servingTerminating: boolean;
  /** `hints.forZones` names; undefined when the endpoint has none. */
  readonly zoneHints: readonly string[] | undefined;
  /** `hints.forNodes` names; undefined when the endpoint has none. */
  readonly nodeHints: readonly string[] | undefined;
}

function toCandidate(endpoint: Endpoint, port: number, nodeName: string): Candidate {
  const { ready, serving, terminating } = endpoint.conditions;
  return {
    address: endpoint.addresses[0],
    port,
    local: nodeName !== "" && endpoint.nodeName === nodeName,
    ready,
    terminating,
    servingTerminating: serving && terminating,
    zoneHints: endpoint.zoneHints,
    nodeHints: endpoint.nodeHints,
  };
}

/**
 * The endpoints map of one service port (kube-proxy's `EndpointSliceCache.addEndpoints`):
 * every endpoint with an address, whatever its conditions.
 *
 * Slice ports are matched to a service port by name and protocol: the EndpointSlice controller
 * has already resolved a named `targetPort` into the slice port's number.
 *
 * One address and port listed twice (a pod moving between slices, or a new pod reusing the IP
 * of a terminating one) counts once; as in kube-proxy, a later copy that is not terminating
 * replaces an earlier one, so a running pod wins over the terminating pod it took the IP of.
 */
export function candidatesOf(
  slices: readonly EndpointSlice[],
  servicePort: ServicePort,
  nodeName: string,
): Candidate[] {
  const byKey = new Map<string, Candidate>();
  for (const slice of slices) {
    const slicePort = slice.ports.find((p) =>
      p.name === servicePort.name && p.protocol === servicePort.protocol
    );
    if (!slicePort) continue;
    for (const endpoint of slice.endpoints) {
      if (endpoint.addresses.length === 0) continue;
      const candidate = toCandidate(endpoint, slicePort.port, nodeName);
      const key = `${candidate.address}|${candidate.port}`;
      // Map.set keeps the first copy's position, so the order stays the slices' order.
      if (!byKey.has(key) || !candidate.terminating) byKey.set(key, candidate);
    }
  }
  return [...byKey.values()];
}

/** Ready endpoints, or when none is ready, the serving-and-terminating ones (graceful fallback). */
function usable(candidates: readonly Candidate[]): ServiceEndpoint[] {
  const ready = candidates.filter((c) => c.ready);
  // Candidates are ServiceEndpoints already; returning them as they are spares an allocation
  // per endpoint on the hot path.
  return ready.length > 0 ? ready : candidates.filter((c) => c.servingTerminating);
}

/** Categorises the endpoints of one service port for one family. */
export function categorizeEndpoints(
  slices: readonly EndpointSlice[],
  servicePort: ServicePort,
  nodeName: string,
): CategorizedEndpoints {
  const candidates = candidatesOf(slices, servicePort, nodeName);
  const everyLocal = candidates.filter((c) => c.local);
  return { all: usable(candidates), local: usable(everyLocal), everyLocal };
}
