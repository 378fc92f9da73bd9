/**
 * The cluster from the Kubernetes API, as kube-proxy follows it: Services and EndpointSlices
 * without the `service.kubernetes.io/service-proxy-name` and `service.kubernetes.io/headless`
 * labels, and only this node's Node. Each object is parsed and validated once per
 * resourceVersion (an invalid one is skipped with one warning); a read assembles the snapshot
 * from the parsed objects. Losing the API server changes nothing: the last snapshot stays.
 *
 * @module
 */

import { formatObjectWarning } from "../object_warning.ts";
import { parseObjects } from "../parse.ts";
import { buildSnapshot } from "../snapshot.ts";
import {
  type ClusterSource,
  type EndpointTrigger,
  type SnapshotRead,
  triggerOf,
} from "../source.ts";
import type { EndpointSlice, Node, Service } from "../types.ts";
import type { ApiClient } from "./api_client.ts";
import { type RawObject, Reflector, type ReflectorTuning, type ResourceSpec } from "./reflector.ts";

/** kube-proxy's label selector for Services and EndpointSlices. */
export const PROXY_LABEL_SELECTOR =
  "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless";

/** The three resources kube-proxy watches, for `nodeName`. */
export function proxyResources(nodeName: string): Record<Resource, ResourceSpec> {
  return {
    services: {
      resource: "services",
      path: "/api/v1/services",
      kind: "Service",
      apiVersion: "v1",
      labelSelector: PROXY_LABEL_SELECTOR,
    },
    endpointslices: {
      resource: "endpointslices",
      path: "/apis/discovery.k8s.io/v1/endpointslices",
      kind: "EndpointSlice",
      apiVersion: "discovery.k8s.io/v1",
      labelSelector: PROXY_LABEL_SELECTOR,
    },
    nodes: {
      resource: "nodes",
      path: "/api/v1/nodes",
      kind: "Node",
      apiVersion: "v1",
      fieldSelector: `metadata.name=${nodeName}`,
    },
  };
}

/** The resources kube-proxy follows. */
export type Resource = "services" | "endpointslices" | "nodes";
type Parsed = Service | EndpointSlice | Node;

/** Options of {@link ApiClusterSource}. */
export interface ApiSourceOptions {
  /** The client the reflectors list and watch with. */
  readonly client: ApiClient;
  /** This node's name: its Node object is the only one read. */
  readonly nodeName: string;
  /** Receives warnings (`warning: ...`) and retry messages. */
  readonly log: (line: string) => void;
  /** Reflector timing, for tests. */
  readonly tuning?: ReflectorTuning;
}

/**
 * Follows the API server from `start()` until `close()`.
 *
 * @example
 * ```ts
 * import { ApiClient } from "./api_client.ts";
 * import { ApiClusterSource } from "./api_source.ts";
 * import { resolveConnection } from "./connection.ts";
 * const client = new ApiClient(
 *   resolveConnection({ kubeconfig: "", master: "http://127.0.0.1:8080", env: {} }),
 * );
 * const source = new ApiClusterSource({ client, nodeName: "node-a", log: console.error });
 * source.description; // "the API at http://127.0.0.1:8080"
 * ```
 */
export class ApiClusterSource implements ClusterSource {
  /** One reflector per resource: their stores and request counts. */
  readonly reflectors: Readonly<Record<Resource, Reflector>>;
  readonly #options: ApiSourceOptions;
  readonly #parsed: Record<Resource, Map<string, { version: string; object?: Parsed }>> = {
    services: new Map(),
    endpointslices: new Map(),
    nodes: new Map(),
  };
  readonly #changed: Record<Resource, Set<string>> = {
    services: new Set(),
    endpointslices: new Set(),
    nodes: new Set(),
  };
  readonly #listeners = new Set<() => void>();
  /** Trigger times of the slices changed since the last read. */
  #triggers: EndpointTrigger[] = [];
  readonly #stop = new AbortController();
  #running: Promise<unknown> | undefined;

  /** A source that starts following the API at the first `start()` or `ready()`. */
  constructor(options: ApiSourceOptions) {
    this.#options = options;
    const specs = proxyResources(options.nodeName);
    const make = (resource: Resource) =>
      new Reflector(options.client, specs[resource], {
        onChange: (changes) => this.#onChange(resource, changes),
        log: options.log,
      }, options.tuning);
    this.reflectors = {
      services: make("services"),
      endpointslices: make("endpointslices"),
      nodes: make("nodes"),
    };
  }

  /** The client every list, watch and event goes through. */
  get client(): ApiClient {
    return this.#options.client;
  }

  /** `the API at https://10.0.0.1:6443`. */
  get description(): string {
    return `the API at ${this.#options.client.server}`;
  }

  /** Starts listing and watching (once). */
  start(): void {
    this.#running ??= Promise.all(
      Object.values(this.reflectors).map((r) => r.run(this.#stop.signal)),
    );
  }

  /** Resolves once all three initial lists are complete. */
  async ready(signal: AbortSignal): Promise<void> {
    this.start();
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    await Promise.race([
      Promise.all(Object.values(this.reflectors).map((r) => r.firstList)),
      aborted,
    ]);
  }

  /** Why the lists are not complete yet: one clause per resource that failed. */
  pendingReasons(): string[] {
    return Object.values(this.reflectors)
      .filter((r) => !r.synced)
      .map((r) => `${r.description}: ${r.lastError ?? "no answer yet"}`);
  }

  /** The snapshot of every valid object received so far. */
  read(): Promise<SnapshotRead> {
    const objects = (resource: Resource) =>
      [...this.#parsed[resource].values()].flatMap((entry) => entry.object ? [entry.object] : []);
    const snapshot = buildSnapshot({
      services: objects("services") as Service[],
      endpointSlices: objects("endpointslices") as EndpointSlice[],
      nodes: objects("nodes") as Node[],
    }, { copy: false });
    const read = {
      snapshot,
      serviceChanges: this.#changed.services.size,
      endpointChanges: this.#changed.endpointslices.size,
    };
    for (const changed of Object.values(this.#changed)) changed.clear();
    const endpointTriggers = this.#triggers;
    this.#triggers = [];
    return Promise.resolve({ ...read, endpointTriggers });
  }

  /** Services and EndpointSlices changed since the last read. */
  pendingChanges(): { services: number; endpoints: number } {
    return { services: this.#changed.services.size, endpoints: this.#changed.endpointslices.size };
  }

  subscribe(onChange: () => void): () => void {
    this.#listeners.add(onChange);
    return () => this.#listeners.delete(onChange);
  }

  /** Stops every list and watch. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  #onChange(resource: Resource, changes: ReadonlyMap<string, RawObject | undefined>): void {
    const parsed = this.#parsed[resource];
    for (const [key, raw] of changes) {
      if (raw === undefined) {
        if (parsed.delete(key)) this.#changed[resource].add(key);
        continue;
      }
      const version = resourceVersion(raw);
      if (parsed.get(key)?.version === version && version !== "") continue;
      const object = this.#parse(raw);
      parsed.set(key, { version, object });
      this.#changed[resource].add(key);
      if (resource === "endpointslices") this.#triggers.push(...triggerOf(object as EndpointSlice));
    }
    for (const listener of this.#listeners) listener();
  }

  /** One object, validated; undefined (after a warning) when it is skipped. */
  #parse(raw: RawObject): Parsed | undefined {
    const source = this.description;
    const { services, endpointSlices, nodes, warnings } = parseObjects([
      { value: raw, source, index: 1 },
    ]);
    for (const warning of warnings) this.#options.log(`warning: ${formatObjectWarning(warning)}`);
    return services[0] ?? endpointSlices[0] ?? nodes[0];
  }
}

function resourceVersion(raw: RawObject): string {
  const metadata = (raw.metadata ?? {}) as Record<string, unknown>;
  return typeof metadata.resourceVersion === "string" ? metadata.resourceVersion : "";
}
