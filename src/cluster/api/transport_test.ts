/**
 * The transport's abort handling against a local node:http server: an abort while a request
 * waits for its answer ends it, once, also after an earlier request to the same server (Deno's
 * node:http re-sends a request aborted on a reused keep-alive socket); an aborted signal sends
 * nothing; a signal shared by many requests keeps no listener of the finished ones.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { Socket } from "node:net";
import { sendRequest, type TransportRequest } from "./transport.ts";

interface TestServer {
  readonly url: string;
  /** Resolves when the server has a request for `/slow`, which it never answers. */
  readonly slowArrived: Promise<void>;
  /** How many requests for `/slow` arrived. */
  readonly slowRequests: number;
  close(): Promise<void>;
}

async function startServer(): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const slowArrived = Promise.withResolvers<void>();
  let slowRequests = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== "/slow") return res.end('{"kind":"Quick"}');
    slowRequests += 1;
    slowArrived.resolve();
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    slowArrived: slowArrived.promise,
    get slowRequests() {
      return slowRequests;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

function get(url: string, signal?: AbortSignal): TransportRequest {
  return {
    method: "GET",
    url: new URL(url),
    headers: { "Accept": "application/json" },
    signal,
    tls: { caCerts: [], insecureSkipTlsVerify: false },
  };
}

/** Rejects after `ms`, naming `what`; its timer is cleared with `clear`. */
function deadline(ms: number, what: string): { promise: Promise<never>; clear(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return { promise, clear: () => clearTimeout(timer) };
}

Deno.test("an abort while a request waits for its answer ends it, also after an earlier request", async () => {
  const server = await startServer();
  try {
    // With a keep-alive agent, the finished request leaves its socket in the pool and the next
    // one goes out on it.
    assert.equal(await (await sendRequest(get(`${server.url}/quick`))).text(), '{"kind":"Quick"}');
    const controller = new AbortController();
    const pending = sendRequest(get(`${server.url}/slow`, controller.signal));
    pending.catch(() => {}); // awaited below
    await server.slowArrived;
    controller.abort();
    const limit = deadline(5000, "the aborted request ending");
    try {
      await Promise.race([
        assert.rejects(pending, (error: Error) => {
          assert.equal(error.name, "ConnectionError");
          assert.equal((error.cause as Error).name, "AbortError");
          return true;
        }),
        limit.promise,
      ]);
    } finally {
      limit.clear();
    }
    // On a reused socket Deno's node:http took the abort as a lost connection and sent the
    // request again on a new one: a watch stopped so came back, streaming for its timeout.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(server.slowRequests, 1, "the aborted request was sent again");
  } finally {
    await server.close();
  }
});

Deno.test("an already aborted signal sends nothing", async () => {
  const server = await startServer();
  try {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(sendRequest(get(`${server.url}/slow`, controller.signal)), /aborted/);
  } finally {
    await server.close();
  }
});

Deno.test("a signal shared by many requests keeps no listener of the finished ones", async () => {
  const server = await startServer();
  try {
    const controller = new AbortController();
    const signal = controller.signal;
    let listeners = 0;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = (...args: Parameters<AbortSignal["addEventListener"]>) => {
      if (args[0] === "abort") listeners += 1;
      add(...args);
    };
    signal.removeEventListener = (...args: Parameters<AbortSignal["removeEventListener"]>) => {
      if (args[0] === "abort") listeners -= 1;
      remove(...args);
    };
    for (let i = 0; i < 5; i++) {
      await (await sendRequest(get(`${server.url}/quick`, signal))).text();
    }
    // The response's "close" can follow the end of its body by a turn of the event loop.
    for (let i = 0; i < 50 && listeners > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(listeners, 0, "abort listeners left on the signal");
  } finally {
    await server.close();
  }
});
