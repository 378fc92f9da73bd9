import assert from "node:assert/strict";
import { startFakeApiServer } from "./fake_apiserver.ts";
import { fetchJson, node, service, summary, WatchReader } from "./test_helpers.ts";

Deno.test("a watch from a resourceVersion replays the later changes, then follows live ones", async () => {
  const server = await startFakeApiServer({ objects: [service("a")] });
  const from = server.resourceVersion;
  server.upsert(service("b"));
  server.upsert({ ...service("a"), spec: { clusterIP: "10.96.0.2" } });
  server.upsert(node("n1")); // another resource: not in this watch
  const watch = await WatchReader.open(
    `${server.url}/api/v1/services?watch=true&resourceVersion=${from}`,
  );
  try {
    assert.equal(watch.response.headers.get("content-type"), "application/json");
    assert.deepEqual(summary(await watch.take(2)), ["ADDED b", "MODIFIED a"]);
    server.remove("Service", "default", "b");
    const [deleted] = await watch.take(1);
    assert.equal(deleted.type, "DELETED");
    assert.equal(deleted.object.kind, "Service");
    assert.equal(deleted.object.apiVersion, "v1");
    assert.equal(deleted.object.metadata.resourceVersion, server.resourceVersion);
  } finally {
    await watch.close();
    await server.close();
  }
});

Deno.test("a watch with no resourceVersion or 0 starts with the current objects as ADDED", async () => {
  const server = await startFakeApiServer({ objects: [service("a"), service("b", "other")] });
  const watch = await WatchReader.open(
    `${server.url}/api/v1/namespaces/default/services?watch=1&resourceVersion=0`,
  );
  try {
    assert.deepEqual(summary(await watch.take(1)), ["ADDED a"]);
    server.upsert(service("c", "other"));
    server.upsert(service("d"));
    assert.deepEqual(summary(await watch.take(1)), ["ADDED d"]);
  } finally {
    await watch.close();
    await server.close();
  }
});

Deno.test("a watch from a compacted resourceVersion gets one ERROR event with 410 Expired, then ends", async () => {
  const server = await startFakeApiServer({ objects: [service("a")] });
  const old = server.resourceVersion;
  server.upsert(service("b"));
  server.compact();
  const watch = await WatchReader.open(
    `${server.url}/api/v1/services?watch=true&resourceVersion=${old}`,
  );
  try {
    const [error] = await watch.take(1);
    assert.equal(error.type, "ERROR");
    assert.deepEqual(error.object, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `too old resource version: ${old} (${server.resourceVersion})`,
      reason: "Expired",
      code: 410,
    });
    assert.equal(await watch.next(), undefined);
    // The compaction point itself is still served.
    const ok = await WatchReader.open(
      `${server.url}/api/v1/services?watch=true&resourceVersion=${server.resourceVersion}`,
    );
    server.upsert(service("c"));
    assert.deepEqual(summary(await ok.take(1)), ["ADDED c"]);
    await ok.close();
  } finally {
    await watch.close();
    await server.close();
  }
});

Deno.test("bookmarks go only to watches that allow them, on demand and periodically", async () => {
  const server = await startFakeApiServer({ objects: [service("a")], bookmarkIntervalMs: 200 });
  const rv = server.resourceVersion;
  const url =
    `${server.url}/apis/discovery.k8s.io/v1/endpointslices?watch=true&resourceVersion=${rv}`;
  const withBookmarks = await WatchReader.open(`${url}&allowWatchBookmarks=true`);
  const without = await WatchReader.open(url);
  try {
    server.upsert(service("b"));
    server.sendBookmarks();
    const [bookmark] = await withBookmarks.take(1);
    assert.deepEqual(bookmark, {
      type: "BOOKMARK",
      object: {
        kind: "EndpointSlice",
        apiVersion: "discovery.k8s.io/v1",
        metadata: { resourceVersion: server.resourceVersion },
      },
    });
    const [periodic] = await withBookmarks.take(1, 1000);
    assert.equal(periodic.type, "BOOKMARK");
    await assert.rejects(without.next(400), /no watch event/);
  } finally {
    await withBookmarks.close();
    await without.close();
    await server.close();
  }
});

Deno.test("a selector watch sees an object that stops matching as DELETED and one that starts as ADDED", async () => {
  const server = await startFakeApiServer({
    objects: [service("a", "default", { app: "web" }), service("b")],
  });
  const rv = server.resourceVersion;
  const watch = await WatchReader.open(
    `${server.url}/api/v1/services?watch=true&resourceVersion=${rv}&labelSelector=app%3Dweb`,
  );
  try {
    server.upsert(service("a", "default", { app: "db" }));
    server.upsert(service("b", "default", { app: "web" }));
    server.upsert(service("b", "default", { app: "web", x: "y" }));
    server.upsert(service("c"));
    const events = await watch.take(3);
    assert.deepEqual(summary(events), ["DELETED a", "ADDED b", "MODIFIED b"]);
    // The DELETED carries the object as it was, at the change's resourceVersion.
    assert.deepEqual(events[0].object.metadata.labels, { app: "web" });
    assert.equal(events[0].object.metadata.resourceVersion, String(Number(rv) + 1));
  } finally {
    await watch.close();
    await server.close();
  }
});

Deno.test("a watch for one Node by fieldSelector sees only that Node", async () => {
  const server = await startFakeApiServer({ objects: [node("n1"), node("n2")] });
  const watch = await WatchReader.open(
    `${server.url}/api/v1/nodes?watch=true&fieldSelector=metadata.name%3Dn2`,
  );
  try {
    assert.deepEqual(summary(await watch.take(1)), ["ADDED n2"]);
    server.upsert(node("n1"));
    server.upsert(node("n2"));
    assert.deepEqual(summary(await watch.take(1)), ["MODIFIED n2"]);
  } finally {
    await watch.close();
    await server.close();
  }
});

Deno.test("timeoutSeconds ends the watch stream after that time", async () => {
  const server = await startFakeApiServer();
  const watch = await WatchReader.open(
    `${server.url}/api/v1/services?watch=true&resourceVersion=${server.resourceVersion}&timeoutSeconds=1`,
  );
  try {
    const start = performance.now();
    assert.equal(await watch.next(3000), undefined);
    const took = performance.now() - start;
    assert.ok(took > 800 && took < 2500, `ended after ${took} ms`);
    assert.equal(server.openWatches, 0);
  } finally {
    await watch.close();
    await server.close();
  }
});

Deno.test("closeWatches ends every open stream cleanly and new watches still work", async () => {
  const server = await startFakeApiServer({ objects: [service("a")] });
  const rv = server.resourceVersion;
  const a = await WatchReader.open(
    `${server.url}/api/v1/services?watch=true&resourceVersion=${rv}`,
  );
  const b = await WatchReader.open(`${server.url}/api/v1/nodes?watch=true&resourceVersion=${rv}`);
  try {
    assert.equal(server.openWatches, 2);
    server.closeWatches();
    assert.equal(await a.next(), undefined);
    assert.equal(await b.next(), undefined);
    assert.equal(server.openWatches, 0);
    const list = await fetchJson(`${server.url}/api/v1/services`);
    assert.equal(list.body.items.length, 1);
    const c = await WatchReader.open(
      `${server.url}/api/v1/services?watch=true&resourceVersion=${rv}`,
    );
    server.upsert(service("z"));
    assert.deepEqual(summary(await c.take(1)), ["ADDED z"]);
    await c.close();
  } finally {
    await a.close();
    await b.close();
    await server.close();
  }
});

Deno.test("a watch the client abandons is closed on the server", async () => {
  const server = await startFakeApiServer();
  const watch = await WatchReader.open(`${server.url}/api/v1/services?watch=true`);
  await watch.close();
  for (let i = 0; i < 50 && server.openWatches > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(server.openWatches, 0);
  await server.close();
});
