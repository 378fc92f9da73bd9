/**
 * An in-process fake Kubernetes API server for tests: Services, EndpointSlices, Nodes and Events
 * over the real wire protocol (discovery, list with pagination and selectors, watch streams with
 * resume, bookmarks and 410 Expired, bearer-token and client-certificate auth, 403 wording) on
 * 127.0.0.1, over HTTP and optionally HTTPS. The handle lets a test change objects, break the
 * server in the ways a real one breaks, and read what clients asked.
 *
 * @example
 * ```ts
 * const server = await startFakeApiServer({ tokens: ["t0ken"] });
 * server.upsert({ apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: "default" } });
 * const res = await fetch(`${server.url}/api/v1/services`, { headers: { authorization: "Bearer t0ken" } });
 * console.log((await res.json()).items.length); // 1
 * await server.close();
 * ```
 *
 * @module
 */

import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import {
  Authenticator,
  Authorizer,
  type ForbidRule,
  type TokenSpec,
  unauthorized,
} from "./auth.ts";
import { type ResourceInfo, RESOURCES } from "./discovery.ts";
import { route, sendStatus } from "./router.ts";
import { status } from "./status.ts";
import { type KubeObject, Store } from "./store.ts";
import { WatchHub } from "./watch.ts";

export type { ForbidRule, TokenSpec } from "./auth.ts";
export type { KubeObject } from "./store.ts";

/** The HTTPS listener's certificate, and the CA client certificates are verified against. */
export interface FakeApiServerTls {
  /** The server certificate (PEM), e.g. `makeTestPki().server.cert`. */
  readonly cert: string;
  /** Its key (PEM). */
  readonly key: string;
  /** When set, clients may authenticate with a certificate signed by this CA (PEM); the user is its CN. */
  readonly clientCa?: string;
}

/** Options for {@link startFakeApiServer}. */
export interface FakeApiServerOptions {
  /** Also listen with HTTPS (on its own port), with this certificate. */
  readonly tls?: FakeApiServerTls;
  /** Accepted bearer tokens (replace them later with {@link FakeApiServer.setTokens}). @default {[]} */
  readonly tokens?: readonly TokenSpec[];
  /**
   * Whether a request with no credentials passes as `system:anonymous`.
   * @default {true when no tokens and no client CA are configured, else false}
   */
  readonly anonymous?: boolean;
  /** Requests that get 403 Forbidden (replace them with {@link FakeApiServer.setForbidden}). @default {[]} */
  readonly forbid?: readonly ForbidRule[];
  /** Objects stored before the server starts listening. @default {[]} */
  readonly objects?: readonly KubeObject[];
  /** How many changes the history keeps; older ones are compacted away (410 for them). @default {100000} */
  readonly historyLimit?: number;
  /** When set, watches with `allowWatchBookmarks=true` get a BOOKMARK this often. */
  readonly bookmarkIntervalMs?: number;
  /** The clock for `creationTimestamp`. @default {() => new Date()} */
  readonly now?: () => Date;
}

/** One request as the server saw it. */
export interface RequestRecord {
  /** `GET`, `POST`, ... */
  readonly method: string;
  /** The URL path, without the query. */
  readonly path: string;
  /** The query parameters (the last value of a repeated one). */
  readonly query: Readonly<Record<string, string>>;
  /** The authenticated user's name; undefined when the request got 401. */
  readonly user?: string;
  /** The request headers (lower-case names; repeated ones joined with ", "). */
  readonly headers: Readonly<Record<string, string>>;
  /** `"https"` or `"http"`. */
  readonly scheme: string;
  /** When the request arrived. */
  readonly time: Date;
}

/** The handle of a running fake API server; see {@link startFakeApiServer}. */
export interface FakeApiServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** `https://127.0.0.1:PORT` when {@link FakeApiServerOptions.tls} was given. */
  readonly httpsUrl?: string;
  /** Every request so far, oldest first (a test may clear it with `requests.length = 0`). */
  readonly requests: RequestRecord[];
  /** Events created through the API (`POST .../events`, both groups), oldest first. */
  readonly events: readonly KubeObject[];
  /** The latest resourceVersion, as lists report it. */
  readonly resourceVersion: string;
  /** How many watch streams are open. */
  readonly openWatches: number;
  /**
   * Creates or replaces an object (by `kind`/`apiVersion`, namespace and name): a new global
   * resourceVersion, `uid` and `creationTimestamp` kept or made; watchers get ADDED or MODIFIED.
   * Returns a copy of the stored object.
   */
  upsert(obj: KubeObject): KubeObject;
  /**
   * Deletes an object (`kind` like `Service`, or a plural like `services`; `Event` is the core
   * group's; `namespace` is ignored for Nodes); watchers get DELETED. False when it was absent.
   */
  remove(kind: string, namespace: string, name: string): boolean;
  /** A copy of the stored object, if any. */
  get(kind: string, namespace: string, name: string): KubeObject | undefined;
  /** Copies of every stored object of a kind, in list order. */
  list(kind: string): KubeObject[];
  /** Stores many objects at once (10,000 Services and 10,000 EndpointSlices in well under a second). */
  bulkLoad(objects: Iterable<KubeObject>): void;
  /** Drops the history: watches and continue tokens from older resourceVersions get 410 Expired. */
  compact(): void;
  /** Sends a BOOKMARK at the latest resourceVersion on every watch that allows bookmarks. */
  sendBookmarks(): void;
  /** Ends every open watch stream cleanly (the client sees the response end). */
  closeWatches(): void;
  /**
   * `true`: stops listening and drops every open connection (as an API server that went away);
   * `false`: listens again on the same ports.
   */
  refuseConnections(refuse: boolean): Promise<void>;
  /** The next `n` requests (any path) get `code` with a Status body. @default code 500 */
  failNext(n: number, code?: number): void;
  /** Replaces the accepted bearer tokens (requests with any other token get 401). */
  setTokens(tokens: readonly TokenSpec[]): void;
  /** Replaces the rules that make requests fail with 403. */
  setForbidden(rules: readonly ForbidRule[]): void;
  /** Stops listening and ends every stream and connection. */
  close(): Promise<void>;
}

class Listener {
  readonly sockets = new Set<Socket>();
  port = 0;

  constructor(readonly server: http.Server, readonly scheme: "http" | "https") {
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

function resourceByName(kind: string): ResourceInfo {
  const r = RESOURCES.find((r) => r.kind === kind || r.resource === kind);
  if (!r) throw new Error(`The fake API server does not serve "${kind}"`);
  return r;
}

/**
 * Starts the fake API server on 127.0.0.1 (ephemeral ports): HTTP always, HTTPS too with
 * `options.tls`. Close it with {@link FakeApiServer.close}.
 */
export async function startFakeApiServer(
  options: FakeApiServerOptions = {},
): Promise<FakeApiServer> {
  const now = options.now ?? (() => new Date());
  const store = new Store({
    historyLimit: options.historyLimit ?? 100_000,
    now,
  });
  for (const o of options.objects ?? []) store.put(store.resourceOf(o), o);
  const hub = new WatchHub(store, options.bookmarkIntervalMs);
  const tokens = options.tokens ?? [];
  const anonymous = options.anonymous ?? (tokens.length === 0 && !options.tls?.clientCa);
  const authn = new Authenticator(tokens, anonymous);
  const authz = new Authorizer(options.forbid ?? []);
  const requests: RequestRecord[] = [];
  const events: KubeObject[] = [];
  let failing = { n: 0, code: 500 };
  const listeners: Listener[] = [];

  const handler = (scheme: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const user = authn.authenticate(req);
    requests.push({
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      user: user?.name,
      headers: Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, [v ?? ""].flat().join(", ")]),
      ),
      scheme,
      time: now(),
    });
    if (failing.n > 0) {
      failing = { ...failing, n: failing.n - 1 };
      if (failing.code === 429 || failing.code === 503) res.setHeader("Retry-After", "1");
      return sendStatus(
        res,
        status(failing.code, "the fake API server was told to fail this request"),
      );
    }
    if (!user) return sendStatus(res, unauthorized());
    const address = () => `127.0.0.1:${listeners.find((l) => l.scheme === scheme)?.port ?? 0}`;
    route({ store, hub, authz, events, address }, req, res, url, user).catch((e) => {
      if (!res.headersSent) sendStatus(res, status(500, `fake API server error: ${e}`));
      else res.destroy();
    });
  };

  listeners.push(new Listener(http.createServer(handler("http")), "http"));
  if (options.tls) {
    const server = https.createServer({
      cert: options.tls.cert,
      key: options.tls.key,
      ...(options.tls.clientCa
        ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: false }
        : {}),
    }, handler("https"));
    listeners.push(new Listener(server, "https"));
  }
  for (const l of listeners) await l.listen();
  const [plain, secure] = listeners;

  return {
    url: `http://127.0.0.1:${plain.port}`,
    httpsUrl: secure ? `https://127.0.0.1:${secure.port}` : undefined,
    requests,
    events,
    get resourceVersion() {
      return String(store.rv);
    },
    get openWatches() {
      return hub.size;
    },
    upsert: (obj) => JSON.parse(store.put(store.resourceOf(obj), obj).json),
    remove: (kind, namespace, name) =>
      store.delete(resourceByName(kind), namespace, name) !== undefined,
    get(kind, namespace, name) {
      const o = store.get(resourceByName(kind), namespace, name);
      return o && JSON.parse(o.json);
    },
    list: (kind) => store.current(resourceByName(kind)).map((o) => JSON.parse(o.json)),
    bulkLoad(objects) {
      for (const o of objects) store.put(store.resourceOf(o), o);
    },
    compact: () => store.compact(),
    sendBookmarks: () => hub.sendBookmarks(),
    closeWatches: () => hub.closeAll(),
    async refuseConnections(refuse) {
      if (refuse) {
        hub.closeAll();
        for (const l of listeners) await l.stop();
      } else {
        for (const l of listeners) if (!l.server.listening) await l.listen();
      }
    },
    failNext(n, code = 500) {
      failing = { n, code };
    },
    setTokens: (list) => authn.setTokens(list),
    setForbidden: (rules) => authz.setRules(rules),
    async close() {
      hub.closeAll();
      for (const l of listeners) await l.stop();
    },
  };
}
