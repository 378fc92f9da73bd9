/**
 * The API source's reflectors against the fake API server, counting the requests they send:
 * pagination, relist after 410, resume after a closed stream, backoff while the server is away
 * or failing, token rotation, the label selectors, and no snapshot before every list is done.
 */
import assert from "node:assert/strict";
import { ApiClient } from "../../src/cluster/api/api_client.ts";
import { ApiClusterSource } from "../../src/cluster/api/api_source.ts";
import { CredentialProvider } from "../../src/cluster/api/credentials.ts";
import type { ApiConnection } from "../../src/cluster/api/kubeconfig.ts";
import type { ReflectorTuning } from "../../src/cluster/api/reflector.ts";
import { type FakeApiServer, startFakeApiServer } from "../fake_apiserver/fake_apiserver.ts";
import { endpointSlice, eventually, node, plainClient, service } from "./objects.ts";

/**
 * How long a test waits for the initial lists: generous, because it only bounds a failure, and
 * on a 2-core machine running the VM suite beside the parallel tests 5 s was seen to run out.
 */
const READY_TIMEOUT_MS = 30_000;

const FAST: ReflectorTuning = {
  backoff: { initialMs: 20, maxMs: 200 },
  minWatchMs: 50,
  random: () => 0,
};

function connection(url: string, credentials: ApiConnection["credentials"] = { kind: "none" }) {
  return {
    server: new URL(url),
    tls: { caCerts: [], insecureSkipTlsVerify: false },
    credentials,
    origin: "test",
  };
}

interface Harness {
  readonly server: FakeApiServer;
  readonly source: ApiClusterSource;
  readonly log: string[];
  requests(verb: "list" | "watch", path: string): number;
}

async function withSource(
  setup: { objects?: Parameters<FakeApiServer["upsert"]>[0][]; tuning?: ReflectorTuning },
  fn: (h: Harness) => Promise<void>,
  options: { client?: (server: FakeApiServer) => ApiClient } = {},
): Promise<void> {
  const server = await startFakeApiServer({ objects: setup.objects ?? [] });
  const log: string[] = [];
  const client = options.client?.(server) ??
    plainClient(server.url);
  const source = new ApiClusterSource({
    client,
    nodeName: "node-a",
    log: (line) => log.push(line),
    tuning: { ...FAST, ...setup.tuning },
  });
  const requests = (verb: "list" | "watch", path: string) =>
    server.requests.filter((r) =>
      r.path === path && (verb === "watch") === (r.query.watch === "true")
    ).length;
  try {
    await fn({ server, source, log, requests });
  } finally {
    await source.close();
    await server.close();
  }
}

/**
 * Ends every watch stream once all three (services, slices, the node) are open. `ready()`
 * resolves after the lists, before the watches that follow them have reached the server;
 * closing then would close nothing (seen under load), and a test waiting for the resumed
 * watch would wait for the stream's own timeout.
 */
async function closeOpenWatches(server: FakeApiServer): Promise<void> {
  await eventually(() => server.openWatches === 3, "the three watches open", 15_000);
  server.closeWatches();
}

const SERVICES = "/api/v1/services";
const SLICES = "/apis/discovery.k8s.io/v1/endpointslices";

Deno.test("the first list comes from the watch cache in one answer; after a 410 it is read page by page", async () => {
  const objects = Array.from(
    { length: 1200 },
    (_, i) => service(`s${i}`, `10.0.${i >> 8}.${i & 255}`, 80),
  );
  await withSource({ objects, tuning: { pageSize: 500 } }, async ({ source, requests, server }) => {
    await source.ready(AbortSignal.timeout(READY_TIMEOUT_MS));
    assert.equal((await source.read()).snapshot.services.length, 1200);
    const lists = () =>
      server.requests.filter((r) => r.path === SERVICES && r.query.watch !== "true");
    assert.deepEqual(lists().map((p) => p.query.resourceVersion), ["0"], "one cached list");
    server.compact();
    await closeOpenWatches(server);
    server.upsert(service("late", "10.0.9.9", 80));
    server.compact();
    await eventually(() => requests("list", SERVICES) === 4, "the paginated relist");
    const pages = lists().slice(1);
    assert.deepEqual(pages.map((p) => p.query.limit), ["500", "500", "500"]);
    assert.deepEqual(pages.map((p) => p.query.resourceVersion), [undefined, undefined, undefined]);
    assert.equal(pages[0].query.continue, undefined);
    assert.ok(pages[1].query.continue && pages[2].query.continue);
    await eventually(() => source.reflectors.services.versions.size === 1201, "all 1,201");
  });
});

Deno.test("changes arrive through the watch and are counted once per object", async () => {
  await withSource({ objects: [service("web", "10.0.0.80", 80)] }, async ({ source, server }) => {
    await source.ready(AbortSignal.timeout(READY_TIMEOUT_MS));
    assert.equal((await source.read()).serviceChanges, 1);
    let notified = 0;
    source.subscribe(() => notified++);
    server.upsert(service("api", "10.0.0.81", 81));
    server.upsert(endpointSlice("api-1", "api", ["10.244.1.5"], 8080));
    server.remove("Service", "default", "web");
    await eventually(() => notified >= 3, "three changes");
    const read = await source.read();
    assert.deepEqual(read.snapshot.services.map((s) => s.name), ["api"]);
    assert.deepEqual(read.snapshot.endpointSlices.map((s) => s.name), ["api-1"]);
    assert.deepEqual([read.serviceChanges, read.endpointChanges], [2, 1]);
    assert.deepEqual([(await source.read()).serviceChanges], [0]);
  });
});

Deno.test("a 410 after compaction leads to exactly one fresh list, and nothing is lost", async () => {
  await withSource({ objects: [service("web", "10.0.0.80", 80)] }, async (h) => {
    await h.source.ready(AbortSignal.timeout(READY_TIMEOUT_MS));
    assert.equal(h.requests("list", SERVICES), 1);
    // Changes the watch will not see: the stream ends, history is compacted, then they happen.
    h.server.compact();
    await closeOpenWatches(h.server);
    h.server.upsert(service("api", "10.0.0.81", 81));
    h.server.compact();
    await eventually(() => h.requests("list", SERVICES) === 2, "a relist");
    await eventually(
      () => h.source.reflectors.services.versions.has("default/api"),
      "the service added during the gap",
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(h.requests("list", SERVICES), 2, "one relist, not a storm");
    assert.deepEqual((await h.source.read()).snapshot.services.map((s) => s.name), ["api", "web"]);
  });
});

Deno.test("a closed watch is resumed from the last resourceVersion, one request per close", async () => {
  await withSource({}, async (h) => {
    await h.source.ready(AbortSignal.timeout(READY_TIMEOUT_MS));
    for (let i = 0; i < 3; i++) {
      h.server.upsert(service(`s${i}`, `10.0.1.${i + 1}`, 80));
      await eventually(() => h.source.reflectors.services.versions.has(`default/s${i}`), `s${i}`);
      const before = h.requests("watch", SERVICES);
      await closeOpenWatches(h.server);
      await eventually(() => h.requests("watch", SERVICES) === before + 1, "the resumed watch");
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(h.requests("list", SERVICES), 1, "no relist after a clean close");
    const watches = h.server.requests.filter((r) => r.path === SERVICES && r.query.watch);
    assert.ok(watches.every((w) => w.query.allowWatchBookmarks === "true"));
    // Each resumed watch starts where the stream before it stopped, never from scratch.
    const versions = watches.map((w) => Number(w.query.resourceVersion));
    assert.deepEqual(versions, [...versions].sort((a, b) => a - b));
    assert.ok(versions.every((v) => v > 0));
  });
});

Deno.test("while the server refuses connections the reflectors back off, then recover", async () => {
  await withSource({}, async (h) => {
    await h.source.ready(AbortSignal.timeout(READY_TIMEOUT_MS));
    await h.server.refuseConnections(true);
    const before = h.server.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await h.server.refuseConnections(false);
    h.server.upsert(service("back", "10.0.0.9", 80));
    await eventually(() => h.source.reflectors.services.versions.has("default/back"), "recovery");
    // With a 20 ms initial delay doubling to 200 ms, a second of refusals allows about 8 tries
    // per resource; a storm would be hundreds. The refused ones never reach the log of requests,
    // so count the retry lines instead.
    const retries = h.log.filter((l) => /cannot read services from/.test(l)).length;
    assert.ok(retries >= 2 && retries <= 12, `${retries} retries for services in 1 s`);
    assert.ok(h.server.requests.length - before < 40);
    assert.match(
      h.log.find((l) => l.includes("services from"))!,
      /^warning: cannot read services from http:\/\/127\.0\.0\.1:\d+: .*; retrying in \d+\.\ds$/,
    );
  });
});

Deno.test("500 answers are retried with backoff and the list completes", async () => {
  await withSource({ objects: [service("web", "10.0.0.80", 80)] }, async (h) => {
    h.server.failNext(4, 500);
    await h.source.ready(AbortSignal.timeout(READY_TIMEOUT_MS));
    assert.equal((await h.source.read()).snapshot.services.length, 1);
    assert.ok(h.log.some((l) => / 500\b/.test(l)), h.log.join("\n"));
  });
});

Deno.test("services and slices labelled service-proxy-name or headless never reach the snapshot", async () => {
  const objects = [
    service("plain", "10.0.0.1", 80),
    service("other-proxy", "10.0.0.2", 80, { "service.kubernetes.io/service-proxy-name": "x" }),
    service("headless", "10.0.0.3", 80, { "service.kubernetes.io/headless": "" }),
  ];
  await withSource({ objects }, async (h) => {
    await h.source.ready(AbortSignal.timeout(READY_TIMEOUT_MS));
    assert.deepEqual((await h.source.read()).snapshot.services.map((s) => s.name), ["plain"]);
    const lists = h.server.requests.filter((r) => r.path === SERVICES || r.path === SLICES);
    assert.ok(lists.every((r) =>
      r.query.labelSelector ===
        "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"
    ));
    // A label added later removes the service, as the API server's watch reports it.
    h.server.upsert(service("plain", "10.0.0.1", 80, { "service.kubernetes.io/headless": "" }));
    await eventually(() => !h.source.reflectors.services.versions.has("default/plain"), "removal");
  });
});

Deno.test("only this node's Node is read", async () => {
  const objects = [node("node-a", "192.168.0.10"), node("node-b", "192.168.0.11")];
  await withSource({ objects }, async (h) => {
    await h.source.ready(AbortSignal.timeout(READY_TIMEOUT_MS));
    assert.deepEqual((await h.source.read()).snapshot.nodes.map((n) => n.name), ["node-a"]);
    const nodeLists = h.server.requests.filter((r) => r.path === "/api/v1/nodes");
    assert.ok(nodeLists.every((r) => r.query.fieldSelector === "metadata.name=node-a"));
  });
});

Deno.test("no snapshot is ready before every initial list is complete", async () => {
  await withSource({ objects: [service("web", "10.0.0.80", 80)] }, async (h) => {
    h.server.setForbidden([{ verb: "list", resource: "nodes" }]);
    let ready = false;
    const waiting = h.source.ready(AbortSignal.timeout(READY_TIMEOUT_MS)).then(() => ready = true);
    await eventually(() => h.source.reflectors.services.synced, "the services list");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(ready, false);
    assert.match(h.source.pendingReasons().join("\n"), /nodes from .*: .*403 Forbidden/);
    h.server.setForbidden([]);
    await waiting;
    assert.equal(ready, true);
  });
});

Deno.test("a rotated token file is read again after a 401", async () => {
  const dir = await Deno.makeTempDir();
  const tokenFile = `${dir}/token`;
  await Deno.writeTextFile(tokenFile, "old-token");
  try {
    await withSource({}, async (h) => {
      h.server.setTokens(["old-token"]);
      await h.source.ready(AbortSignal.timeout(READY_TIMEOUT_MS));
      // The token changes only once the three watches are in with the old one: a watch still on
      // its way would be refused, drop the token the reflectors share, and the others would
      // resume with the new one, never refused (seen under load).
      await eventually(() => h.server.openWatches === 3, "the three watches open", 15_000);
      await Deno.writeTextFile(tokenFile, "new-token");
      h.server.setTokens(["new-token"]);
      h.server.closeWatches();
      const paths = [SERVICES, SLICES, "/api/v1/nodes"];
      const users = (path: string) =>
        h.server.requests.filter((r) => r.path === path).map((r) => r.user);
      // The resumed watches still carry the cached old token and are refused (401); the first
      // refusal drops it, so a watch sent after that one may get in at once...
      await eventually(
        () => paths.some((path) => users(path).includes(undefined)),
        "the old token refused",
        15_000,
      );
      // ...and the file is read again: the next watch gets in.
      h.server.upsert(service("after", "10.0.0.7", 80));
      await eventually(
        () => h.source.reflectors.services.versions.has("default/after"),
        "rotation",
        15_000,
      );
      assert.equal(users(SERVICES).at(-1), "system:kube-proxy");
      for (const path of paths) {
        const refused = users(path).filter((u) => u === undefined).length;
        assert.ok(refused <= 1, `${path}: refused ${refused} times, more than once`);
      }
    }, {
      client: (server) =>
        new ApiClient(connection(server.url, { kind: "tokenFile", path: tokenFile }), {
          qps: -1,
          credentials: new CredentialProvider({ kind: "tokenFile", path: tokenFile }),
        }),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
