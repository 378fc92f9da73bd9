/**
 * Parsed objects -> one immutable {@link ClusterSnapshot}, sorted so the same cluster always
 * gives the same snapshot whatever the order of the files.
 *
 * @module
 */

import type { ClusterSnapshot, EndpointSlice, Node, Service } from "./types.ts";

/** The objects a snapshot is built from (what `parseObjects` returns, warnings aside). */
export interface SnapshotInput {
  /** Validated Services, in any order. */
  readonly services: readonly Service[];
  /** Validated EndpointSlices, in any order. */
  readonly endpointSlices: readonly EndpointSlice[];
  /** Validated Nodes, in any order. */
  readonly nodes: readonly Node[];
}

/**
 * Sorts services and slices by namespace, then name, nodes by name, and deep-freezes the result
 * (copies are frozen and the input is left as it was, unless `copy: false`).
 *
 * @example
 * ```ts
 * import { decodeManifestText } from "./decode.ts";
 * import { parseObjects } from "./parse.ts";
 * import { buildSnapshot } from "./snapshot.ts";
 *
 * const { documents } = decodeManifestText(
 *   "kind: Service\napiVersion: v1\nmetadata: {name: web, namespace: default}\n" +
 *     "spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}\n",
 *   "web.yaml",
 * );
 * const snapshot = buildSnapshot(parseObjects(documents));
 * Object.isFrozen(snapshot.services[0].ports); // true
 * ```
 */
export function buildSnapshot(
  parsed: SnapshotInput,
  options: { readonly copy?: boolean } = {},
): ClusterSnapshot {
  // Without copies (a caller that owns its objects and keeps them unchanged), objects are
  // frozen in place and an object frozen once is not walked again: a source that keeps its
  // parsed objects between reads pays for each object once.
  const copy = options.copy ?? true;
  const own = <T>(items: readonly T[]): T[] =>
    copy ? items.map((i) => structuredClone(i)) : [...items];
  return deepFreeze({
    services: sortByIdentity(own(parsed.services)),
    endpointSlices: sortByIdentity(own(parsed.endpointSlices)),
    nodes: own(parsed.nodes).sort((x, y) => compare(x.name, y.name)),
  });
}

/** An empty snapshot (no services, slices or nodes), frozen. */
export const EMPTY_SNAPSHOT: ClusterSnapshot = deepFreeze({
  services: [],
  endpointSlices: [],
  nodes: [],
});

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Namespace first, then name: `a-b/x` sorts after `a/y`, unlike a plain `ns/name` string sort. */
function sortByIdentity<T extends { readonly namespace: string; readonly name: string }>(
  items: T[],
): T[] {
  return items.sort((x, y) => compare(x.namespace, y.namespace) || compare(x.name, y.name));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
