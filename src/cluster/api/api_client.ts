/**
 * A small Kubernetes API client: authenticated GET (JSON), watch streams (one JSON event per
 * line) and POST, rate-limited by `clientConnection.qps`/`burst` as client-go limits them.
 * Errors name the method, the URL and what the server said.
 *
 * @module
 */

import { CredentialProvider } from "./credentials.ts";
import type { ApiConnection } from "./kubeconfig.ts";
import { TokenBucket } from "./rate_limiter.ts";
import {
  ConnectionError,
  redact,
  sendRequest,
  type TlsSettings,
  type TransportResponse,
} from "./transport.ts";

/** The server answered with an error status. */
export class ApiStatusError extends Error {
  /** The HTTP status (or a watch ERROR event's `code`), e.g. 410. */
  readonly status: number;
  /** The `Status` reason, e.g. `Expired`, `Forbidden`; "" when the body had none. */
  readonly reason: string;

  /** `message` names the method, URL, status and the server's message. */
  constructor(message: string, status: number, reason: string) {
    super(message);
    this.name = "ApiStatusError";
    this.status = status;
    this.reason = reason;
  }
}

/** True for 410 Gone: the resourceVersion or continue token is too old; list afresh. */
export function isGone(error: unknown): boolean {
  return error instanceof ApiStatusError && error.status === 410;
}

/** One watch event. */
export interface WatchEvent {
  /** The event type; `ERROR` carries a `Status`. */
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  /** The object (for `BOOKMARK`, only its `metadata.resourceVersion`). */
  readonly object: Record<string, unknown>;
}

/** Options of {@link ApiClient}. */
export interface ApiClientOptions {
  /** Requests per second, `clientConnection.qps`. @default 5 */
  readonly qps?: number;
  /** Burst, `clientConnection.burst`. @default 10 */
  readonly burst?: number;
  /** Sent as `User-Agent`. @default "ipvs-proxy" */
  readonly userAgent?: string;
  /** The credential provider (tests inject one with fake I/O). */
  readonly credentials?: CredentialProvider;
  /**
   * A watch that sends nothing, not even a bookmark, for this long is taken as dead and
   * closed (a half-open TCP connection after a network change sends no error).
   * @default 0 (no limit)
   */
  readonly watchIdleMs?: number;
}

/**
 * The client.
 *
 * @example
 * ```ts
 * import { ApiClient } from "./api_client.ts";
 * import { resolveConnection } from "./connection.ts";
 * const client = new ApiClient(
 *   resolveConnection({ kubeconfig: "", master: "http://127.0.0.1:8080", env: {} }),
 * );
 * client.server; // "http://127.0.0.1:8080"
 * ```
 */
export class ApiClient {
  readonly #connection: ApiConnection;
  readonly #credentials: CredentialProvider;
  readonly #limiter: TokenBucket;
  readonly #userAgent: string;
  readonly #watchIdleMs: number;

  /** A client of `connection`'s server, limited to `options.qps` requests per second. */
  constructor(connection: ApiConnection, options: ApiClientOptions = {}) {
    this.#connection = connection;
    this.#credentials = options.credentials ?? new CredentialProvider(connection.credentials);
    this.#limiter = new TokenBucket(options.qps ?? 5, options.burst ?? 10);
    this.#userAgent = options.userAgent ?? "ipvs-proxy";
    this.#watchIdleMs = options.watchIdleMs ?? 0;
  }

  /** The server, for messages: `https://10.0.0.1:6443`. */
  get server(): string {
    return this.#connection.server.origin;
  }

  /** Where the connection settings came from (kubeconfig, `--master`, in-cluster). */
  get origin(): string {
    return this.#connection.origin;
  }

  /** GETs `path` with `query`; the decoded JSON body. */
  async getJson(
    path: string,
    query: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const url = this.#url(path, query);
    const response = await this.#send("GET", url, undefined, signal);
    return await this.#jsonBody("GET", url, response);
  }

  /** POSTs `body` as JSON to `path`; the decoded JSON answer. */
  async postJson(path: string, body: unknown): Promise<Record<string, unknown>> {
    const url = this.#url(path, {});
    const response = await this.#send("POST", url, JSON.stringify(body));
    return await this.#jsonBody("POST", url, response);
  }

  /**
   * Opens a watch on `path`; yields its events until the server ends the stream or `signal`
   * aborts. An `ERROR` event is thrown as an {@link ApiStatusError}.
   */
  async *watch(
    path: string,
    query: Record<string, string>,
    signal?: AbortSignal,
  ): AsyncGenerator<WatchEvent> {
    const url = this.#url(path, { ...query, watch: "true" });
    const response = await this.#send("GET", url, undefined, signal);
    if (response.status !== 200) {
      await this.#jsonBody("GET", url, response); // throws with the server's message
    }
    let idle: ReturnType<typeof setTimeout> | undefined;
    let idleOut = false;
    const arm = () => {
      if (this.#watchIdleMs <= 0) return;
      clearTimeout(idle);
      idle = setTimeout(() => {
        idleOut = true;
        response.cancel();
      }, this.#watchIdleMs);
    };
    try {
      arm();
      for await (const line of lines(response.body)) {
        arm();
        const event = parseWatchLine(line, url);
        if (event.type === "ERROR") throw statusError("WATCH", url, event.object, 500);
        yield event;
      }
    } catch (error) {
      if (idleOut) {
        throw new ConnectionError(
          `WATCH ${redact(url)}: no data for ${this.#watchIdleMs / 1000}s, reconnecting`,
        );
      }
      throw error;
    } finally {
      clearTimeout(idle);
      response.cancel();
    }
  }

  #url(path: string, query: Record<string, string>): URL {
    const url = new URL(this.#connection.server.href.replace(/\/$/, "") + path);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    return url;
  }

  async #send(
    method: "GET" | "POST",
    url: URL,
    body?: string,
    signal?: AbortSignal,
  ): Promise<TransportResponse> {
    await this.#limiter.take(signal);
    const headers: Record<string, string> = {
      "Accept": "application/json",
      "User-Agent": this.#userAgent,
    };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const authorization = await this.#credentials.authorization();
    if (authorization) headers["Authorization"] = authorization;
    const response = await sendRequest({
      method,
      url,
      headers,
      body,
      signal,
      tls: await this.#tls(),
    });
    if (response.status === 401) this.#credentials.invalidate();
    return response;
  }

  async #tls(): Promise<TlsSettings> {
    const fromPlugin = await this.#credentials.clientCert();
    const tls = this.#connection.tls;
    return fromPlugin ? { ...tls, clientCert: fromPlugin } : tls;
  }

  async #jsonBody(
    method: string,
    url: URL,
    response: TransportResponse,
  ): Promise<Record<string, unknown>> {
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (response.status < 200 || response.status >= 300) {
      const status = isRecord(body) ? body : { message: text.slice(0, 200) };
      throw statusError(method, url, status, response.status);
    }
    if (!isRecord(body)) {
      throw new ApiStatusError(
        `${method} ${redact(url)}: the answer is not a JSON object`,
        response.status,
        "",
      );
    }
    return body;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An error from a `Status` object: `GET https://h/api/v1/services: 403 Forbidden: ...`. */
function statusError(
  method: string,
  url: URL,
  status: Record<string, unknown>,
  httpStatus: number,
): ApiStatusError {
  const code = typeof status.code === "number" ? status.code : httpStatus;
  const reason = typeof status.reason === "string" ? status.reason : "";
  const message = typeof status.message === "string" ? status.message : "";
  const parts = [`${code}${reason ? ` ${reason}` : ""}`, message].filter((p) => p !== "");
  return new ApiStatusError(`${method} ${redact(url)}: ${parts.join(": ")}`, code, reason);
}

function parseWatchLine(line: string, url: URL): WatchEvent {
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    throw new ConnectionError(
      `WATCH ${redact(url)}: a line that is not JSON: ${line.slice(0, 80)}`,
    );
  }
  if (!isRecord(event) || typeof event.type !== "string" || !isRecord(event.object)) {
    throw new ConnectionError(`WATCH ${redact(url)}: not a watch event: ${line.slice(0, 80)}`);
  }
  return event as unknown as WatchEvent;
}

/** The non-empty lines of a byte stream. */
async function* lines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line !== "") yield line;
    }
  }
  pending += decoder.decode();
  if (pending.trim() !== "") yield pending.trim();
}
