/**
 * Watch streams as the API server writes them: HTTP 200, `Content-Type: application/json`,
 * chunked, one `{"type":...,"object":...}` per line. A stream replays the history after its
 * resourceVersion (or, with none or "0", the current objects as ADDED), then follows live changes
 * through the selectors: an object changed so it stops matching is sent as DELETED, one changed so
 * it starts matching as ADDED. A resourceVersion older than the compaction point gets one ERROR
 * event carrying a 410 Expired Status, and the stream ends.
 *
 * @module
 */

import type { ServerResponse } from "node:http";
import type { ResourceInfo } from "./discovery.ts";
import type { Matcher } from "./selectors.ts";
import { tooOldResourceVersion } from "./status.ts";
import { tableFor } from "./table.ts";
import { type Change, ExpiredError, type KubeObject, type Store } from "./store.ts";

/** What one watch request asked for. */
export interface WatchRequest {
  /** The watched resource. */
  readonly resource: ResourceInfo;
  /** Only this namespace; all when absent. */
  readonly namespace?: string;
  /** The label selector. */
  readonly label: Matcher;
  /** The field selector. */
  readonly field: Matcher;
  /** Start after this resourceVersion; absent: send the current objects as ADDED first. */
  readonly fromRv?: number;
  /** `allowWatchBookmarks=true`. */
  readonly bookmarks: boolean;
  /** `timeoutSeconds`, in milliseconds: end the stream after this long. */
  readonly timeoutMs?: number;
  /** The client asked for Tables (kubectl's human `--watch`): each event carries a one-row Table. */
  readonly table?: boolean;
}

/** The open watch streams of one server. */
export class WatchHub {
  readonly #streams = new Set<WatchStream>();

  /** Makes the hub; with `bookmarkIntervalMs`, streams that allow bookmarks get them that often. */
  constructor(readonly store: Store, readonly bookmarkIntervalMs?: number) {}

  /** How many streams are open. */
  get size(): number {
    return this.#streams.size;
  }

  /** Starts a stream on `res` for `request`; it ends itself on timeout or when the client goes. */
  open(res: ServerResponse, request: WatchRequest): void {
    const stream = new WatchStream(
      this.store,
      res,
      request,
      this.bookmarkIntervalMs,
      () => this.#streams.delete(stream),
    );
    this.#streams.add(stream);
    stream.start();
  }

  /** Sends a BOOKMARK at the latest resourceVersion to every stream that allows bookmarks. */
  sendBookmarks(): void {
    for (const s of this.#streams) s.bookmark();
  }

  /** Ends every stream cleanly (the response completes; the client sees the watch end). */
  closeAll(): void {
    for (const s of [...this.#streams]) s.close();
  }
}

class WatchStream {
  #unsubscribe?: () => void;
  #timers: ReturnType<typeof setTimeout>[] = [];
  #interval?: ReturnType<typeof setInterval>;
  #closed = false;
  #sentColumns = false;

  constructor(
    readonly store: Store,
    readonly res: ServerResponse,
    readonly request: WatchRequest,
    readonly bookmarkIntervalMs: number | undefined,
    readonly onClose: () => void,
  ) {}

  start(): void {
    const { res, request, store } = this;
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache" });
    res.flushHeaders();
    res.on("close", () => this.close());
    if (request.fromRv === undefined) {
      for (const o of store.current(request.resource)) {
        if (this.#matches(o.obj)) this.#write("ADDED", o.json, o.obj);
      }
    } else {
      let replay: readonly Change[];
      try {
        replay = store.changesSince(request.fromRv);
      } catch (e) {
        if (!(e instanceof ExpiredError)) throw e;
        this.#write("ERROR", JSON.stringify(tooOldResourceVersion(e.requested, e.oldest)));
        this.close();
        return;
      }
      for (const change of replay) this.#send(change);
    }
    this.#unsubscribe = store.subscribe((change) => this.#send(change));
    if (request.timeoutMs !== undefined) {
      this.#timers.push(setTimeout(() => this.close(), request.timeoutMs));
    }
    if (request.bookmarks && this.bookmarkIntervalMs) {
      this.#interval = setInterval(() => this.bookmark(), this.bookmarkIntervalMs);
    }
  }

  #matches(obj: KubeObject): boolean {
    const { namespace, label, field, resource } = this.request;
    if (namespace && resource.namespaced && obj.metadata?.namespace !== namespace) return false;
    return label(obj) && field(obj);
  }

  #send(change: Change): void {
    if (change.resource !== this.request.resource || this.#closed) return;
    const was = change.before !== undefined && this.#matches(change.before.obj);
    const is = this.#matches(change.after.obj);
    if (change.type === "DELETED") {
      if (is) this.#write("DELETED", change.after.json, change.after.obj);
    } else if (is) {
      this.#write(was ? "MODIFIED" : "ADDED", change.after.json, change.after.obj);
    } else if (was && change.before) {
      // As the watch cache does: the previous content, at the event's resourceVersion.
      const metadata = { ...change.before.obj.metadata, resourceVersion: String(change.after.rv) };
      const obj = { ...change.before.obj, metadata };
      this.#write("DELETED", JSON.stringify(obj), obj);
    }
  }

  #write(type: string, objectJson: string, obj?: KubeObject): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    if (this.request.table && obj) {
      const rv = String(obj.metadata?.resourceVersion ?? this.store.rv);
      const table = tableFor(this.request.resource, [{ obj }], rv, undefined, !this.#sentColumns);
      this.#sentColumns = true;
      objectJson = JSON.stringify(table);
    }
    this.res.write(`{"type":"${type}","object":${objectJson}}\n`);
  }

  bookmark(): void {
    if (!this.request.bookmarks || this.#closed) return;
    const { kind, apiVersion } = this.request.resource;
    const object = { kind, apiVersion, metadata: { resourceVersion: String(this.store.rv) } };
    this.#write("BOOKMARK", JSON.stringify(object));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe?.();
    for (const t of this.#timers) clearTimeout(t);
    if (this.#interval !== undefined) clearInterval(this.#interval);
    if (!this.res.writableEnded && !this.res.destroyed) this.res.end();
    this.onClose();
  }
}
