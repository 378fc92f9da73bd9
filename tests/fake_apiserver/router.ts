/**
 * Routes one authenticated request: discovery documents, then the resource URLs
 * (`/api/v1[/namespaces/{ns}]/{plural}[/{name}]`, `/apis/{group}/{version}/...`) to get, list,
 * watch and create, with the API server's content negotiation (JSON only: a client that prefers
 * protobuf and accepts JSON gets JSON; `as=Table` gets a `meta.k8s.io/v1` Table).
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Authorizer, User } from "./auth.ts";
import {
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  findResource,
  type ResourceInfo,
  SERVER_VERSION,
} from "./discovery.ts";
import { parseFieldSelector, parseLabelSelector, SelectorError } from "./selectors.ts";
import { expiredContinue, notFound, status, type StatusObject } from "./status.ts";
import { ExpiredError, type KubeObject, type ListPage, type Store } from "./store.ts";
import { tableFor, wantsTable } from "./table.ts";
import type { WatchHub } from "./watch.ts";

/** What the router works with (owned by the server). */
export interface RouterContext {
  /** The objects and their history. */
  readonly store: Store;
  /** The open watch streams. */
  readonly hub: WatchHub;
  /** The 403 rules. */
  readonly authz: Authorizer;
  /** Events created through the API, oldest first. */
  readonly events: KubeObject[];
  /** The server's own address, for `/api`'s serverAddressByClientCIDRs. */
  readonly address: () => string;
}

/** Writes a JSON body (a string is sent as it is). */
export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(code, {
    "Content-Type": "application/json",
    "Cache-Control": "no-cache, private",
    "Content-Length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** Writes a Status with its code. */
export function sendStatus(res: ServerResponse, s: StatusObject): void {
  sendJson(res, s.code, s);
}

/** Whether the Accept header lets the server answer JSON (protobuf alone does not). */
export function acceptsJson(accept: string | undefined): boolean {
  if (!accept || accept.trim() === "") return true;
  return accept.split(",").some((part) => {
    const type = part.split(";")[0].trim().toLowerCase();
    return type === "application/json" || type === "*/*" || type === "application/*";
  });
}

/** The authorisation verb of a request on one object (or a POST to a collection). */
const VERBS: Readonly<Record<string, string>> = {
  GET: "get",
  POST: "create",
  PUT: "update",
  PATCH: "patch",
  DELETE: "delete",
};

/** Serves one request from an authenticated user. */
export async function route(
  ctx: RouterContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  user: User,
): Promise<void> {
  const path = url.pathname.replace(/\/+$/, "") || "/";
  if (path === "/healthz" || path === "/livez" || path === "/readyz") {
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.end("ok");
    return;
  }
  if (!acceptsJson(req.headers.accept)) {
    sendStatus(res, status(406, `only the following media types are accepted: application/json`));
    return;
  }
  const doc = discovery(ctx, path);
  if (doc !== undefined) {
    if (req.method !== "GET") {
      return sendStatus(
        res,
        status(405, "the server does not allow this method on the requested resource"),
      );
    }
    return sendJson(res, 200, doc);
  }
  const target = parseResourcePath(path);
  if (!target) {
    return sendStatus(res, status(404, "the server could not find the requested resource"));
  }
  const { resource, namespace, name } = target;
  const query = url.searchParams;
  const watch = query.get("watch") === "true" || query.get("watch") === "1";
  const verb = name === undefined && req.method === "GET"
    ? (watch ? "watch" : "list")
    : VERBS[req.method ?? "GET"] ?? String(req.method).toLowerCase();
  const forbidden = ctx.authz.check(user, {
    verb,
    group: resource.group,
    resource: resource.resource,
    namespace: namespace ?? "",
    name,
  });
  if (forbidden) return sendStatus(res, forbidden);
  if (verb === "create" && !name) return await create(ctx, req, res, resource, namespace);
  if (verb === "get") {
    return get(ctx, res, resource, namespace, name!, wantsTable(req.headers.accept));
  }
  if (verb === "list" || verb === "watch") {
    return listOrWatch(ctx, req, res, resource, namespace, query, verb === "watch");
  }
  sendStatus(res, status(405, `the fake API server does not implement ${req.method} here`));
}

function discovery(ctx: RouterContext, path: string): unknown {
  if (path === "/version") return SERVER_VERSION;
  if (path === "/api") return apiVersions(ctx.address());
  if (path === "/apis") return apiGroupList();
  const core = /^\/api\/([^/]+)$/.exec(path);
  if (core) return apiResourceList("", core[1]);
  const group = /^\/apis\/([^/]+)$/.exec(path);
  if (group) return apiGroup(group[1]);
  const gv = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
  if (gv) return apiResourceList(gv[1], gv[2]);
  return undefined;
}

/** The resource, namespace and name a URL path names, if it names a served resource. */
export function parseResourcePath(
  path: string,
): { resource: ResourceInfo; namespace?: string; name?: string } | undefined {
  const m = /^\/(?:api\/([^/]+)|apis\/([^/]+)\/([^/]+))\/(.*)$/.exec(path);
  if (!m) return undefined;
  const [group, version] = m[1] !== undefined ? ["", m[1]] : [m[2], m[3]];
  let rest = m[4].split("/").map(decodeURIComponent);
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length > 2) return undefined;
  const resource = findResource(group, version, rest[0]);
  if (!resource || (namespace !== undefined && !resource.namespaced)) return undefined;
  if (resource.namespaced && rest.length === 2 && namespace === undefined) return undefined;
  return { resource, namespace, name: rest[1] };
}

function get(
  ctx: RouterContext,
  res: ServerResponse,
  resource: ResourceInfo,
  namespace: string | undefined,
  name: string,
  table: boolean,
): void {
  const o = ctx.store.get(resource, namespace ?? "", name);
  if (!o) return sendStatus(res, notFound(resource.group, resource.resource, name));
  if (table) return sendJson(res, 200, tableFor(resource, [o], String(o.rv)));
  sendJson(res, 200, o.json);
}

interface ContinueToken {
  readonly rv: number;
  readonly start: string;
}

function encodeContinue(t: ContinueToken): string {
  const json = JSON.stringify({ v: "meta.k8s.io/v1", rv: t.rv, start: `${t.start}\u0000` });
  return btoa(String.fromCharCode(...new TextEncoder().encode(json)))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function decodeContinue(text: string): ContinueToken | undefined {
  try {
    const b64 = text.replaceAll("-", "+").replaceAll("_", "/");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const t = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof t.rv !== "number" || typeof t.start !== "string") return undefined;
    return { rv: t.rv, start: t.start.endsWith("\u0000") ? t.start.slice(0, -1) : t.start };
  } catch {
    return undefined;
  }
}

function listOrWatch(
  ctx: RouterContext,
  req: IncomingMessage,
  res: ServerResponse,
  resource: ResourceInfo,
  namespace: string | undefined,
  query: URLSearchParams,
  watch: boolean,
): void {
  let label, field;
  try {
    label = parseLabelSelector(query.get("labelSelector"));
    field = parseFieldSelector(query.get("fieldSelector"), `"${resource.kind}"`);
  } catch (e) {
    if (e instanceof SelectorError) return sendStatus(res, status(400, e.message));
    throw e;
  }
  const rvText = query.get("resourceVersion") ?? "";
  if (rvText !== "" && !/^\d+$/.test(rvText)) {
    return sendStatus(res, status(400, `invalid resource version: ${rvText}`));
  }
  if (watch) {
    const timeout = Number(query.get("timeoutSeconds") ?? "");
    return ctx.hub.open(res, {
      resource,
      namespace,
      label,
      field,
      fromRv: rvText === "" || rvText === "0" ? undefined : Number(rvText),
      bookmarks: query.get("allowWatchBookmarks") === "true",
      timeoutMs: timeout > 0 ? timeout * 1000 : undefined,
      table: wantsTable(req.headers.accept),
    });
  }
  const cont = query.get("continue");
  const token = cont ? decodeContinue(cont) : undefined;
  if (cont && !token) {
    return sendStatus(res, status(400, `continue key is not valid: ${cont}`));
  }
  const exact = query.get("resourceVersionMatch") === "Exact" && rvText !== "";
  let page: ListPage;
  try {
    page = ctx.store.list(resource, {
      namespace,
      label,
      field,
      // As the real server: resourceVersion=0 is served from its watch cache, which ignores limit.
      limit: rvText === "0" && !token ? undefined : Number(query.get("limit") ?? 0) || undefined,
      atRv: token?.rv ?? (exact ? Number(rvText) : undefined),
      after: token?.start,
      unfiltered: !query.get("labelSelector") && !query.get("fieldSelector"),
    });
  } catch (e) {
    if (!(e instanceof ExpiredError)) throw e;
    return sendStatus(res, token ? expiredContinue() : status(410, e.message));
  }
  const rv = String(page.rv);
  const continueToken = page.lastKey === undefined
    ? undefined
    : encodeContinue({ rv: page.rv, start: page.lastKey });
  if (wantsTable(req.headers.accept)) {
    return sendJson(res, 200, tableFor(resource, page.items, rv, continueToken));
  }
  const metadata = JSON.stringify({
    resourceVersion: rv,
    ...(continueToken ? { continue: continueToken } : {}),
    ...(page.remaining !== undefined ? { remainingItemCount: page.remaining } : {}),
  });
  const head = `{"kind":"${resource.listKind}","apiVersion":"${resource.apiVersion}",` +
    `"metadata":${metadata},"items":[`;
  sendJson(res, 200, head + page.items.map((o) => o.itemJson).join(",") + "]}");
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of req) chunks.push(chunk as Uint8Array);
  return Buffer.concat(chunks).toString("utf8");
}

async function create(
  ctx: RouterContext,
  req: IncomingMessage,
  res: ServerResponse,
  resource: ResourceInfo,
  namespace: string | undefined,
): Promise<void> {
  let obj: KubeObject;
  try {
    obj = JSON.parse(await readBody(req));
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
      throw new Error("not an object");
    }
  } catch (e) {
    return sendStatus(res, status(400, `the body of the request was in an unknown format: ${e}`));
  }
  const metadata = { ...(obj.metadata ?? {}) };
  if (resource.namespaced) {
    if (metadata.namespace && namespace && metadata.namespace !== namespace) {
      return sendStatus(
        res,
        status(
          400,
          "the namespace of the provided object does not match the namespace sent on the request",
        ),
      );
    }
    metadata.namespace = namespace ?? metadata.namespace;
  }
  if (!metadata.name && !metadata.generateName) {
    return sendStatus(
      res,
      status(
        422,
        `${resource.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
      ),
    );
  }
  if (
    metadata.name &&
    ctx.store.get(resource, String(metadata.namespace ?? ""), String(metadata.name))
  ) {
    const qualified = resource.group ? `${resource.resource}.${resource.group}` : resource.resource;
    return sendStatus(res, status(409, `${qualified} "${metadata.name}" already exists`));
  }
  const stored = ctx.store.put(resource, {
    ...obj,
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    metadata,
  });
  if (resource.kind === "Event") ctx.events.push(stored.obj);
  sendJson(res, 201, stored.json);
}
