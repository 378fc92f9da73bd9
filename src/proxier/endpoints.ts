/**
 * Which endpoints serve a service port, as kube-proxy categorises them: ready endpoints
 * first, serving-and-terminating ones only when none is ready, and the node-local subset.
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
  /** The usable endpoints on this node (for Local traffic policies and hairpin). */
  readonly local: readonly ServiceEndpoint[];
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

interface Candidate extends ServiceEndpoint {
  readonly ready: boolean;
  readonly terminating: boolean;
  readonly servingTerminating: boolean;
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
  };
}

/**
 * Slice ports are matched to a service port by name and protocol: the EndpointSlice controller
 * has already resolved a named `targetPort` into the slice port's number.
 *
 * One address and port listed twice (a pod moving between slices, or a new pod reusing the IP
 * of a terminating one) counts once; as in kube-proxy, a later copy that is not terminating
 * replaces an earlier one, so a running pod wins over the terminating pod it took the IP of.
 */
function candidatesOf(
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
  return {
    all: usable(candidates),
    local: usable(candidates.filter((c) => c.local)),
  };
}
