/**
 * HTTP(S) requests to the API server, with the TLS settings a kubeconfig can give: extra CA
 * certificates, a client certificate, or `insecure-skip-tls-verify`. Built on `node:https`
 * because Deno's `fetch` has no per-client way to skip verification, and one transport for
 * every kubeconfig is simpler to trust than two.
 *
 * @module
 */

import http from "node:http";
import https from "node:https";

/** How to reach the server over TLS. */
export interface TlsSettings {
  /** PEM certificates trusted in addition to the system's (the cluster's CA). */
  readonly caCerts: readonly string[];
  /** Accept any server certificate (kubeconfig `insecure-skip-tls-verify: true`). */
  readonly insecureSkipTlsVerify: boolean;
  /** A client certificate and its key, PEM (kubeconfig `client-certificate`/`client-key`). */
  readonly clientCert?: { readonly cert: string; readonly key: string };
}

/** One request. */
export interface TransportRequest {
  readonly method: "GET" | "POST";
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** A JSON body for POST. */
  readonly body?: string;
  /** Aborting it ends the request and its response stream. */
  readonly signal?: AbortSignal;
  readonly tls: TlsSettings;
}

/** A response whose body is read as a stream. */
export interface TransportResponse {
  readonly status: number;
  /** Response header, lowercase name. */
  header(name: string): string | undefined;
  /** The body, chunk by chunk; ends when the server ends it. */
  readonly body: AsyncIterable<Uint8Array>;
  /** The whole body as text. */
  text(): Promise<string>;
  /** Stops reading and closes the connection. */
  cancel(): void;
}

/** The server could not be reached or the connection broke (no HTTP status). */
export class ConnectionError extends Error {
  /** `message` names the URL; `cause` is the socket or TLS error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionError";
  }
}

/**
 * Sends `request`; resolves once the status line and headers have arrived. An abort of
 * `request.signal` rejects a request still waiting for its answer and ends a response already
 * streaming.
 */
export function sendRequest(request: TransportRequest): Promise<TransportResponse> {
  const { url, tls, signal } = request;
  const secure = url.protocol === "https:";
  // One connection per request (no keep-alive agent), and aborts handled here rather than by
  // node:http's `signal` option. Deno's node:http (2.9.6) takes a request aborted or destroyed
  // on a reused keep-alive socket, before its answer, for a lost connection: it sends the request
  // again on a new one (a POST too), emits no "error", and calls back with the new answer. A
  // reflector's WATCH goes out on the socket of the LIST before it; stopped then, it came back
  // and streamed for its whole timeoutSeconds (5 minutes), and `ApiClusterSource.close()` waited
  // with it. The price is a handshake per request, a few a minute once the lists are done.
  const options: https.RequestOptions = {
    method: request.method,
    headers: request.headers,
    agent: false,
    ...(secure
      ? {
        ca: tls.caCerts.length > 0 ? [...tls.caCerts] : undefined,
        rejectUnauthorized: !tls.insecureSkipTlsVerify,
        cert: tls.clientCert?.cert,
        key: tls.clientCert?.key,
      }
      : {}),
  };
  return new Promise((resolve, reject) => {
    const fail = (error: unknown) =>
      reject(
        new ConnectionError(
          `${request.method} ${redact(url)}: ${error instanceof Error ? error.message : error}`,
          { cause: error },
        ),
      );
    if (signal?.aborted) return fail(abortError());
    let response: TransportResponse | undefined;
    // Until the answer arrives an abort rejects at once and destroys the request (an answer
    // called back anyway is cancelled below); after, it ends the response. Removed once the
    // response is done with: the signal (a reflector's, for the process's lifetime) must not
    // collect a listener, holding a request, per request.
    const onAbort = () => {
      if (response) return response.cancel();
      fail(abortError());
      req.destroy(abortError());
    };
    const release = () => signal?.removeEventListener("abort", onAbort);
    const req = (secure ? https : http).request(url, options, (res) => {
      res.once("close", release);
      response = wrapResponse(req, res);
      if (signal?.aborted) {
        response.cancel();
        return fail(abortError());
      }
      resolve(response);
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (error) => {
      release();
      fail(error);
    });
    if (request.body !== undefined) req.write(request.body);
    req.end();
  });
}

function abortError(): Error {
  return new DOMException("the request was aborted", "AbortError");
}

function wrapResponse(req: http.ClientRequest, res: http.IncomingMessage): TransportResponse {
  const body = async function* (): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of res) yield chunk as Uint8Array;
    } catch (error) {
      throw new ConnectionError(`reading the response: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };
  return {
    status: res.statusCode ?? 0,
    header: (name) => {
      const value = res.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(", ") : value;
    },
    body: body(),
    async text() {
      const decoder = new TextDecoder();
      let text = "";
      for await (const chunk of body()) text += decoder.decode(chunk, { stream: true });
      return text + decoder.decode();
    },
    cancel() {
      res.destroy();
      req.destroy();
    },
  };
}

/** A URL for messages: no user info, no query (a `continue` token is long and says nothing). */
export function redact(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
