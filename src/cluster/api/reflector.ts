/**
 * client-go's reflector for one resource: LIST (from the watch cache at first, paginated from
 * etcd after a 410), then WATCH from the list's
 * resourceVersion with bookmarks; a watch that ends is resumed from the last resourceVersion
 * seen; 410 Gone (an expired resourceVersion or continue token) leads to a fresh LIST; every
 * other failure backs off with jitter. It keeps only each object's resourceVersion (by
 * `namespace/name`) and hands the objects to its listener; only a complete LIST replaces what it
 * knows, so nobody ever sees a half-listed resource.
 *
 * @module
 */

import { type ApiClient, ApiStatusError, isGone, type WatchEvent } from "./api_client.ts";

/** A raw API object (decoded JSON), with `kind` and `apiVersion` set. */
export type RawObject = Record<string, unknown>;

/** What one resource is and how to select it. */
export interface ResourceSpec {
  /** Plural name for messages and `kubectl`-like wording: `services`. */
  readonly resource: string;
  /** The collection's path: `/api/v1/services`. */
  readonly path: string;
  /** Set on every stored object (list items carry neither). */
  readonly kind: string;
  /** `v1`, `discovery.k8s.io/v1`. */
  readonly apiVersion: string;
  /** Sent as `labelSelector` on every LIST and WATCH. */
  readonly labelSelector?: string;
  /** Sent as `fieldSelector` on every LIST and WATCH. */
  readonly fieldSelector?: string;
}

/** Injectable timing and tuning of a {@link Reflector}. */
export interface ReflectorTuning {
  /** Items per LIST page (`limit`). @default 500 */
  readonly pageSize?: number;
  /** Retry delays: `initialMs` doubling to `maxMs`, each with up to 100% jitter. @default {800, 30000} */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** A watch shorter than this without events counts as a failure (no request storm). @default 1000 */
  readonly minWatchMs?: number;
  /** `timeoutSeconds` of each watch: client-go picks 5-10 minutes at random. */
  readonly watchTimeoutSeconds?: () => number;
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** Waits between retries; resolves early when `signal` aborts. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Monotonic milliseconds. @default performance.now */
  readonly now?: () => number;
}

/**
 * The objects that changed in one update, by key: the new object, or `undefined` when it was
 * deleted. The reflector keeps only resourceVersions: the listener keeps what it needs.
 */
export type ChangeListener = (changes: ReadonlyMap<string, RawObject | undefined>) => void;

const abortableSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

/** `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(object: RawObject): string {
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  const name = String(metadata.name ?? "");
  return typeof metadata.namespace === "string" && metadata.namespace !== ""
    ? `${metadata.namespace}/${name}`
    : name;
}

function resourceVersionOf(object: RawObject): string {
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  return typeof metadata.resourceVersion === "string" ? metadata.resourceVersion : "";
}

/**
 * Lists and watches one resource, handing every change to its listener, until `run`'s signal aborts.
 *
 * @example
 * ```ts
 * import { ApiClient } from "./api_client.ts";
 * import { resolveConnection } from "./connection.ts";
 * import { Reflector } from "./reflector.ts";
 * const client = new ApiClient(
 *   resolveConnection({ kubeconfig: "", master: "http://127.0.0.1:8080", env: {} }),
 * );
 * const services = new Reflector(client, {
 *   resource: "services", path: "/api/v1/services", kind: "Service", apiVersion: "v1",
 * }, { onChange: () => {}, log: console.error });
 * services.synced; // false until the first LIST completes
 * ```
 */
export class Reflector {
  /** Each object's resourceVersion, by `namespace/name`. */
  readonly versions: Map<string, string> = new Map();
  /** The last error, for messages; undefined after a success. */
  lastError: string | undefined;
  /** Requests sent, by verb: tests count them. */
  readonly requests = { list: 0, watch: 0 };

  readonly #client: ApiClient;
  readonly #spec: ResourceSpec;
  readonly #onChange: ChangeListener;
  readonly #log: (line: string) => void;
  readonly #tuning: Required<ReflectorTuning>;
  #resourceVersion = "";
  /** Set by a 410: the next list must not come from the watch cache. */
  #lastListExpired = false;
  #synced = false;
  #markSynced!: () => void;
  /** Resolves when the first complete LIST is in the store. */
  readonly firstList: Promise<void>;

  /** A reflector of `spec` through `client`; `handlers.onChange` hears every store update. */
  constructor(
    client: ApiClient,
    spec: ResourceSpec,
    handlers: { readonly onChange: ChangeListener; readonly log: (line: string) => void },
    tuning: ReflectorTuning = {},
  ) {
    this.#client = client;
    this.#spec = spec;
    this.#onChange = handlers.onChange;
    this.#log = handlers.log;
    const random = tuning.random ?? Math.random;
    this.#tuning = {
      pageSize: tuning.pageSize ?? 500,
      backoff: tuning.backoff ?? { initialMs: 800, maxMs: 30_000 },
      minWatchMs: tuning.minWatchMs ?? 1000,
      watchTimeoutSeconds: tuning.watchTimeoutSeconds ?? (() => Math.floor(300 * (1 + random()))),
      random,
      sleep: tuning.sleep ?? abortableSleep,
      now: tuning.now ?? (() => performance.now()),
    };
    this.firstList = new Promise((resolve) => this.#markSynced = resolve);
  }

  /** True once a LIST has completed. */
  get synced(): boolean {
    return this.#synced;
  }

  /** What this reflector reads, for messages: `services from https://10.0.0.1:6443`. */
  get description(): string {
    return `${this.#spec.resource} from ${this.#client.server}`;
  }

  /** Lists and watches until `signal` aborts; never throws. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (this.#resourceVersion === "") await this.#list(signal);
        const healthy = await this.#watch(signal);
        failures = healthy ? 0 : failures + 1;
        if (failures > 0) await this.#pause(failures, undefined, signal);
      } catch (error) {
        if (signal.aborted) break;
        if (isGone(error)) {
          this.#resourceVersion = ""; // too old: list afresh, not from the cache
          this.#lastListExpired = true;
        }
        failures += 1;
        this.lastError = error instanceof Error ? error.message : String(error);
        // A first 410 relists at once, as client-go does; repeated ones back off.
        if (isGone(error) && failures === 1) continue;
        await this.#pause(failures, this.lastError, signal);
      }
    }
  }

  async #pause(failures: number, error: string | undefined, signal: AbortSignal): Promise<void> {
    const { initialMs, maxMs } = this.#tuning.backoff;
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 30));
    const delay = Math.min(maxMs, base * (1 + this.#tuning.random()));
    if (error !== undefined) {
      this.#log(
        `warning: cannot read ${this.description}: ${error}; retrying in ${
          (delay / 1000).toFixed(1)
        }s`,
      );
    }
    await this.#tuning.sleep(delay, signal);
  }

  #query(): Record<string, string> {
    const query: Record<string, string> = {};
    if (this.#spec.labelSelector) query.labelSelector = this.#spec.labelSelector;
    if (this.#spec.fieldSelector) query.fieldSelector = this.#spec.fieldSelector;
    return query;
  }

  #normalise(object: RawObject): RawObject {
    return { ...object, kind: this.#spec.kind, apiVersion: this.#spec.apiVersion };
  }

  /** One complete LIST, page by page, then the store is replaced at once. */
  async #list(signal: AbortSignal): Promise<void> {
    const items = new Map<string, RawObject>();
    let resourceVersion = "";
    let token = "";
    // client-go's choice: resourceVersion=0 is served from the API server's watch cache in one
    // answer (it ignores `limit`), cheap for the server; after a 410 the cache is too far
    // behind, so the list is a consistent read from etcd, page by page.
    const fromCache = !this.#lastListExpired;
    do {
      const query: Record<string, string> = {
        ...this.#query(),
        limit: String(this.#tuning.pageSize),
      };
      if (token !== "") query.continue = token;
      else if (fromCache) query.resourceVersion = "0";
      this.requests.list += 1;
      const page = await this.#client.getJson(this.#spec.path, query, signal);
      const metadata = (page.metadata ?? {}) as Record<string, unknown>;
      if (!Array.isArray(page.items)) {
        throw new ApiStatusError(`LIST ${this.description}: the answer has no items`, 500, "");
      }
      for (const item of page.items as RawObject[]) {
        const object = this.#normalise(item);
        items.set(objectKey(object), object);
      }
      resourceVersion = typeof metadata.resourceVersion === "string"
        ? metadata.resourceVersion
        : "";
      token = typeof metadata.continue === "string" ? metadata.continue : "";
    } while (token !== "");
    this.#replace(items);
    this.#resourceVersion = resourceVersion;
    this.#lastListExpired = false;
    this.lastError = undefined;
    if (!this.#synced) {
      this.#synced = true;
      this.#markSynced();
    }
  }

  #replace(items: Map<string, RawObject>): void {
    const changes = new Map<string, RawObject | undefined>();
    for (const [key, object] of items) {
      if (this.versions.get(key) !== resourceVersionOf(object)) changes.set(key, object);
    }
    for (const key of this.versions.keys()) if (!items.has(key)) changes.set(key, undefined);
    this.versions.clear();
    for (const [key, object] of items) this.versions.set(key, resourceVersionOf(object));
    if (changes.size > 0 || !this.#synced) this.#onChange(changes);
  }

  /** One watch; true when it lasted or delivered events (a healthy stream). */
  async #watch(signal: AbortSignal): Promise<boolean> {
    const started = this.#tuning.now();
    const query = {
      ...this.#query(),
      resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: "true",
      timeoutSeconds: String(this.#tuning.watchTimeoutSeconds()),
    };
    this.requests.watch += 1;
    let events = 0;
    for await (const event of this.#client.watch(this.#spec.path, query, signal)) {
      this.#apply(event);
      events += 1;
    }
    this.lastError = undefined;
    return events > 0 || this.#tuning.now() - started >= this.#tuning.minWatchMs;
  }

  #apply(event: WatchEvent): void {
    const version = resourceVersionOf(event.object);
    if (event.type === "BOOKMARK") {
      if (version !== "") this.#resourceVersion = version;
      return;
    }
    const object = this.#normalise(event.object);
    const key = objectKey(object);
    if (event.type === "DELETED") this.versions.delete(key);
    else this.versions.set(key, version);
    if (version !== "") this.#resourceVersion = version;
    this.#onChange(new Map([[key, event.type === "DELETED" ? undefined : object]]));
  }
}
