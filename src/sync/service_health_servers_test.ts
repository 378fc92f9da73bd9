import assert from "node:assert/strict";
import type { ServiceHealthCheck } from "../proxier/health_checks.ts";
import { serviceHealthResponse, ServiceHealthServers } from "./service_health_servers.ts";

const LOCALHOST = "127.0.0.1";
const NET = { net: [LOCALHOST] };

/** kube-proxy's body for default/web with two local endpoints, tabs and all. */
const WEB_BODY = [
  "{",
  '\t"service": {',
  '\t\t"namespace": "default",',
  '\t\t"name": "web"',
  "\t},",
  '\t"localEndpoints": 2,',
  '\t"serviceProxyHealthy": true',
  "}",
].join("\n");

function check(port: number, localEndpoints: number, name = "web"): ServiceHealthCheck {
  return { port, namespace: "default", name, localEndpoints };
}

/** A port nothing listens on right now, as the kernel hands one out. */
function freePort(): number {
  const listener = Deno.listen({ hostname: LOCALHOST, port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

interface RawResponse {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

function parseResponse(head: string, body: string): RawResponse {
  const [statusLine, ...lines] = head.split("\r\n");
  const headers = new Map(lines.map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  }));
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

/** Sends one HTTP/1.1 request on `conn` (kept open) and reads the whole response. */
async function request(conn: Deno.Conn, path: string): Promise<RawResponse> {
  await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: node\r\n\r\n`));
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  let text = "";
  while (true) {
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const length = Number(/^content-length: *(\d+)/im.exec(text.slice(0, end))?.[1] ?? NaN);
      assert.ok(Number.isInteger(length), `a content-length in ${JSON.stringify(text)}`);
      if (text.length >= end + 4 + length) {
        return parseResponse(text.slice(0, end), text.slice(end + 4, end + 4 + length));
      }
    }
    const read = await conn.read(buffer);
    if (read === null) throw new Error(`connection closed mid-response: ${JSON.stringify(text)}`);
    text += decoder.decode(buffer.subarray(0, read));
  }
}

/** One request on a fresh connection. */
async function get(port: number, path = "/"): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: LOCALHOST, port });
  try {
    return await request(conn, path);
  } finally {
    conn.close();
  }
}

/** Waits until connecting to `port` is refused (a server's shutdown finishes asynchronously). */
async function refused(port: number): Promise<boolean> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: LOCALHOST, port })).close();
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionRefused) return true;
      // A listener being torn down may reset a connection it had just accepted.
      if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

Deno.test({
  name:
    "serviceHealthResponse() is kube-proxy's answer: 200 only with endpoints and a healthy proxy",
  permissions: "none",
  async fn() {
    const ok = serviceHealthResponse(check(32000, 2), true);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), WEB_BODY);
    assert.equal(serviceHealthResponse(check(32000, 0), true).status, 503);
    const unhealthy = serviceHealthResponse(check(32000, 2), false);
    assert.equal(unhealthy.status, 503);
    assert.equal((await unhealthy.json()).serviceProxyHealthy, false);
  },
});

Deno.test({
  name: "a health check port answers any path with the JSON and headers kube-proxy sends",
  permissions: NET,
  async fn() {
    const port = freePort();
    const servers = new ServiceHealthServers({ hostnames: [LOCALHOST] });
    try {
      servers.update([check(port, 2)]);
      const response = await get(port, "/any/path?at=all");
      assert.equal(response.status, 200);
      assert.equal(response.body, WEB_BODY);
      assert.equal(response.headers.get("content-type"), "application/json");
      assert.equal(response.headers.get("x-content-type-options"), "nosniff");
      assert.equal(response.headers.get("x-load-balancing-endpoint-weight"), "2");
    } finally {
      await servers.close();
    }
  },
});

Deno.test({
  name: "a service without local endpoints, or behind an unhealthy proxy, answers 503",
  permissions: NET,
  async fn() {
    const [empty, full] = [freePort(), freePort()];
    let healthy = true;
    const servers = new ServiceHealthServers({
      hostnames: [LOCALHOST],
      proxyHealthy: () => healthy,
    });
    try {
      servers.update([check(empty, 0, "empty"), check(full, 3, "full")]);
      const none = await get(empty);
      assert.equal(none.status, 503);
      assert.equal(none.headers.get("x-load-balancing-endpoint-weight"), "0");
      assert.deepEqual(JSON.parse(none.body), {
        service: { namespace: "default", name: "empty" },
        localEndpoints: 0,
        serviceProxyHealthy: true,
      });
      assert.equal((await get(full)).status, 200);
      healthy = false;
      const sick = await get(full);
      assert.equal(sick.status, 503);
      assert.equal(JSON.parse(sick.body).serviceProxyHealthy, false);
    } finally {
      await servers.close();
    }
  },
});

Deno.test({
  name: "an update changes the count on an open connection, without restarting the server",
  permissions: NET,
  async fn() {
    const port = freePort();
    const servers = new ServiceHealthServers({ hostnames: [LOCALHOST] });
    servers.update([check(port, 2)]);
    const conn = await Deno.connect({ hostname: LOCALHOST, port });
    try {
      assert.equal((await request(conn, "/")).status, 200);
      servers.update([check(port, 0)]);
      // The same keep-alive connection answers: the listener was left alone.
      const after = await request(conn, "/");
      assert.equal(after.status, 503);
      assert.equal(after.headers.get("x-load-balancing-endpoint-weight"), "0");
    } finally {
      conn.close();
      await servers.close();
    }
  },
});

Deno.test({
  name: "a port dropped from the checks stops answering while the others keep serving",
  permissions: NET,
  async fn() {
    const [kept, dropped] = [freePort(), freePort()];
    const servers = new ServiceHealthServers({ hostnames: [LOCALHOST] });
    try {
      servers.update([check(kept, 1, "kept"), check(dropped, 1, "dropped")]);
      assert.equal((await get(dropped)).status, 200);
      servers.update([check(kept, 1, "kept")]);
      assert.deepEqual(servers.ports, [kept]);
      assert.ok(await refused(dropped), `port ${dropped} still answers`);
      assert.equal((await get(kept)).status, 200);
    } finally {
      await servers.close();
    }
  },
});

Deno.test({
  name: "close() stops every server, and later updates start none",
  permissions: NET,
  async fn() {
    const ports = [freePort(), freePort()];
    const servers = new ServiceHealthServers({ hostnames: [LOCALHOST] });
    servers.update(ports.map((port, i) => check(port, 1, `web-${i}`)));
    await Promise.all(ports.map((port) => get(port)));
    await servers.close();
    servers.update(ports.map((port, i) => check(port, 1, `web-${i}`)));
    assert.deepEqual(servers.ports, []);
    for (const port of ports) assert.ok(await refused(port), `port ${port} still answers`);
  },
});

Deno.test({
  name: "a port that cannot be bound is logged once and served as soon as it is free",
  permissions: NET,
  async fn() {
    const squatter = Deno.listen({ hostname: LOCALHOST, port: 0 });
    const { port } = squatter.addr;
    let squatting = true;
    const log: string[] = [];
    const servers = new ServiceHealthServers({ hostnames: [LOCALHOST], log: (l) => log.push(l) });
    try {
      servers.update([check(port, 1)]);
      servers.update([check(port, 1)]);
      assert.equal(log.length, 1);
      assert.match(log[0], new RegExp(`^error: .*default/web on port ${port}: .*in use`, "i"));
      assert.deepEqual(servers.ports, []);
      squatter.close();
      squatting = false;
      servers.update([check(port, 1)]);
      assert.deepEqual(servers.ports, [port]);
      assert.equal((await get(port)).status, 200);
      assert.equal(log.length, 1);
    } finally {
      if (squatting) squatter.close();
      await servers.close();
    }
  },
});
