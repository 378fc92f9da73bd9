/**
 * The fake API server's storage: objects keyed by resource and `namespace/name`, one global
 * resourceVersion counter (as etcd's revision), a bounded history of changes for watches and for
 * consistent paginated lists, and a compaction point below which both answer 410 Expired.
 * Each object's JSON is serialised once, when it is stored, so a list of 20,000 objects is a join.
 *
 * @module
 */

import { resourceForKind, type ResourceInfo } from "./discovery.ts";
import type { Matcher } from "./selectors.ts";

/** A Kubernetes object as JSON: only `metadata` is read. */
export type KubeObject = Record<string, unknown> & { metadata?: Record<string, unknown> };

/** One stored object version. Frozen: read `obj`, never change it. */
export interface StoredObject {
  /** `namespace/name`, or `name` for cluster-scoped objects (the order lists are served in). */
  readonly key: string;
  /** The namespace; "" for cluster-scoped objects. */
  readonly namespace: string;
  /** `metadata.name`. */
  readonly name: string;
  /** The resourceVersion this version was written at. */
  readonly rv: number;
  /** The object with `kind`, `apiVersion` and the metadata the server set. */
  readonly obj: KubeObject;
  /** `JSON.stringify(obj)`: what a watch event and a GET carry. */
  readonly json: string;
  /** The JSON of `obj` without `kind` and `apiVersion`, as items of a list carry it. */
  readonly itemJson: string;
}

/** A change, as watches see it. */
export interface Change {
  /** What happened. */
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  /** The changed object's resource. */
  readonly resource: ResourceInfo;
  /** The version before the change (none for ADDED). */
  readonly before?: StoredObject;
  /** The version after the change; for DELETED the last version with the deletion's resourceVersion. */
  readonly after: StoredObject;
}

/** Thrown when a resourceVersion is older than the compaction point (the server answers 410). */
export class ExpiredError extends Error {
  /** Makes the error for the requested and the oldest still available resourceVersion. */
  constructor(readonly requested: number, readonly oldest: number) {
    super(`too old resource version: ${requested} (${oldest})`);
    this.name = "ExpiredError";
  }
}

/** What a list asks for. */
export interface ListQuery {
  /** Only this namespace; every namespace when absent. */
  readonly namespace?: string;
  /** The label selector. */
  readonly label: Matcher;
  /** The field selector. */
  readonly field: Matcher;
  /** At most this many items; all when absent or 0. */
  readonly limit?: number;
  /** Serve the list as of this resourceVersion (a continue token's, or `resourceVersionMatch=Exact`). */
  readonly atRv?: number;
  /** Only keys after this one (a continue token's position). */
  readonly after?: string;
  /** No selectors were given, so the page reports `remainingItemCount`. */
  readonly unfiltered?: boolean;
}

/** One page of a list. */
export interface ListPage {
  /** The list's resourceVersion (every page of one list carries the first page's). */
  readonly rv: number;
  /** The page's objects, in key order. */
  readonly items: readonly StoredObject[];
  /** The last key served, when more items remain. */
  readonly lastKey?: string;
  /** How many items remain after this page (set only without selectors, as the server does). */
  readonly remaining?: number;
}

const METADATA_ORDER = [
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
];

function ordered(obj: KubeObject, resource: ResourceInfo, metadata: Record<string, unknown>) {
  const meta: Record<string, unknown> = {};
  for (const k of METADATA_ORDER) if (metadata[k] !== undefined) meta[k] = metadata[k];
  for (const [k, v] of Object.entries(metadata)) if (!(k in meta)) meta[k] = v;
  const { kind: _k, apiVersion: _a, metadata: _m, ...rest } = obj;
  return { kind: resource.kind, apiVersion: resource.apiVersion, metadata: meta, ...rest };
}

/** Serialises a stored version once; `obj` must start with `kind` and `apiVersion` ({@link ordered}). */
function freeze(obj: KubeObject): Omit<StoredObject, "key" | "namespace" | "name"> {
  const rv = Number((obj.metadata as Record<string, unknown>).resourceVersion);
  const json = JSON.stringify(obj);
  const head = JSON.stringify({ kind: obj.kind, apiVersion: obj.apiVersion }).slice(0, -1);
  return { rv, obj: Object.freeze(obj), json, itemJson: `{${json.slice(head.length + 1)}` };
}

function randomSuffix(): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  return Array.from({ length: 5 }, () => alphabet[Math.floor(Math.random() * alphabet.length)])
    .join("");
}

/** Storage with a history; see the module documentation. */
export class Store {
  #rv: number;
  #compactedRv: number;
  #history: Change[] = [];
  readonly #historyLimit: number;
  readonly #now: () => Date;
  readonly #objects = new Map<ResourceInfo, Map<string, StoredObject>>();
  readonly #sorted = new Map<ResourceInfo, StoredObject[]>();
  readonly #listeners = new Set<(change: Change) => void>();

  /** Makes an empty store whose first write gets resourceVersion `firstRv + 1`. */
  constructor(options: { historyLimit: number; now: () => Date; firstRv?: number }) {
    this.#historyLimit = options.historyLimit;
    this.#now = options.now;
    this.#rv = options.firstRv ?? 100;
    this.#compactedRv = this.#rv;
  }

  /** The latest resourceVersion (of the last write to any resource). */
  get rv(): number {
    return this.#rv;
  }

  /** The oldest resourceVersion a watch may start from or a list be served at. */
  get compactedRv(): number {
    return this.#compactedRv;
  }

  /** Calls `listener` with every change, after it is stored; returns the unsubscribe function. */
  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #map(resource: ResourceInfo): Map<string, StoredObject> {
    let m = this.#objects.get(resource);
    if (!m) this.#objects.set(resource, m = new Map());
    return m;
  }

  /** The resource an object belongs to, by its `kind` and `apiVersion`; throws for others. */
  resourceOf(obj: KubeObject): ResourceInfo {
    const kind = String(obj.kind ?? "");
    const apiVersion = obj.apiVersion === undefined ? undefined : String(obj.apiVersion);
    const r = resourceForKind(kind, apiVersion);
    if (!r) throw new Error(`The fake API server does not serve kind "${kind}" (${apiVersion})`);
    return r;
  }

  /**
   * Stores an object (a deep copy) as the API server would: namespace defaulted to `default` for
   * namespaced kinds, `generateName` expanded, a new resourceVersion, `uid` and
   * `creationTimestamp` kept from the stored version or made. Returns the stored version.
   */
  put(resource: ResourceInfo, input: KubeObject): StoredObject {
    // A copy, so the caller's later changes to its object do not reach the store.
    const obj = JSON.parse(JSON.stringify(input)) as KubeObject;
    const metadata = { ...(obj.metadata ?? {}) } as Record<string, unknown>;
    if (!metadata.name && metadata.generateName) {
      metadata.name = `${metadata.generateName}${randomSuffix()}`;
    }
    const name = String(metadata.name ?? "");
    if (name === "") throw new Error(`A ${resource.kind} needs metadata.name`);
    const namespace = resource.namespaced ? String(metadata.namespace || "default") : "";
    if (resource.namespaced) metadata.namespace = namespace;
    else delete metadata.namespace;
    const key = resource.namespaced ? `${namespace}/${name}` : name;
    const objects = this.#map(resource);
    const before = objects.get(key);
    const previous = before?.obj.metadata as Record<string, unknown> | undefined;
    metadata.uid = previous?.uid ?? metadata.uid ?? crypto.randomUUID();
    metadata.creationTimestamp = previous?.creationTimestamp ?? metadata.creationTimestamp ??
      this.#now().toISOString().replace(/\.\d+Z$/, "Z");
    metadata.resourceVersion = String(++this.#rv);
    const stored: StoredObject = {
      key,
      namespace,
      name,
      ...freeze(ordered(obj, resource, metadata)),
    };
    objects.set(key, stored);
    this.#changed(resource, {
      type: before ? "MODIFIED" : "ADDED",
      resource,
      before,
      after: stored,
    });
    return stored;
  }

  /** Deletes an object; returns its last version (with the deletion's resourceVersion), if any. */
  delete(resource: ResourceInfo, namespace: string, name: string): StoredObject | undefined {
    const key = resource.namespaced ? `${namespace}/${name}` : name;
    const objects = this.#map(resource);
    const before = objects.get(key);
    if (!before) return undefined;
    objects.delete(key);
    const metadata = { ...before.obj.metadata, resourceVersion: String(++this.#rv) };
    const after: StoredObject = { ...before, ...freeze({ ...before.obj, metadata }) };
    this.#changed(resource, { type: "DELETED", resource, before, after });
    return after;
  }

  #changed(resource: ResourceInfo, change: Change): void {
    this.#sorted.delete(resource);
    this.#history.push(change);
    if (this.#history.length > this.#historyLimit) {
      const dropped = this.#history.splice(0, this.#history.length - this.#historyLimit);
      this.#compactedRv = dropped[dropped.length - 1].after.rv;
    }
    for (const listener of this.#listeners) listener(change);
  }

  /** Drops the whole history: older resourceVersions and continue tokens now get 410. */
  compact(): void {
    this.#history = [];
    this.#compactedRv = this.#rv;
  }

  /** The stored version of one object. */
  get(resource: ResourceInfo, namespace: string, name: string): StoredObject | undefined {
    return this.#map(resource).get(resource.namespaced ? `${namespace}/${name}` : name);
  }

  /** Every object of a resource now, in key order. */
  current(resource: ResourceInfo): readonly StoredObject[] {
    let sorted = this.#sorted.get(resource);
    if (!sorted) {
      sorted = [...this.#map(resource).values()].sort((a, b) =>
        a.key < b.key ? -1 : a.key > b.key ? 1 : 0
      );
      this.#sorted.set(resource, sorted);
    }
    return sorted;
  }

  /** The changes after `rv`, oldest first; throws {@link ExpiredError} below the compaction point. */
  changesSince(rv: number): readonly Change[] {
    if (rv < this.#compactedRv) throw new ExpiredError(rv, this.#compactedRv);
    let i = this.#history.length;
    while (i > 0 && this.#history[i - 1].after.rv > rv) i--;
    return this.#history.slice(i);
  }

  /** Every object of a resource as of `rv`, in key order (undoing the later history). */
  at(resource: ResourceInfo, rv: number): readonly StoredObject[] {
    const later = this.changesSince(rv).filter((c) => c.resource === resource);
    if (later.length === 0) return this.current(resource);
    const objects = new Map(this.#map(resource));
    for (const change of later.reverse()) {
      if (change.before) objects.set(change.after.key, change.before);
      else objects.delete(change.after.key);
    }
    return [...objects.values()].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  }

  /** One page of a list; throws {@link ExpiredError} when `atRv` is compacted away. */
  list(resource: ResourceInfo, query: ListQuery): ListPage {
    const rv = query.atRv ?? this.#rv;
    const all = query.atRv === undefined ? this.current(resource) : this.at(resource, query.atRv);
    const prefix = query.namespace && resource.namespaced ? `${query.namespace}/` : undefined;
    const limit = query.limit && query.limit > 0 ? query.limit : Infinity;
    const items: StoredObject[] = [];
    let i = query.after === undefined ? 0 : firstAfter(all, query.after);
    for (; i < all.length; i++) {
      const o = all[i];
      if (prefix && !o.key.startsWith(prefix)) continue;
      if (!query.label(o.obj) || !query.field(o.obj)) continue;
      if (items.length === limit) break;
      items.push(o);
    }
    if (i >= all.length) return { rv, items };
    const lastKey = items[items.length - 1].key;
    let remaining: number | undefined;
    if (query.unfiltered) {
      remaining = 0;
      for (; i < all.length; i++) if (!prefix || all[i].key.startsWith(prefix)) remaining++;
    }
    return { rv, items, lastKey, remaining };
  }
}

/** The index of the first object whose key sorts after `key` (binary search). */
function firstAfter(sorted: readonly StoredObject[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid].key <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
