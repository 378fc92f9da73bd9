import assert from "node:assert/strict";
import { startFakeApiServer } from "./fake_apiserver.ts";
import { fetchJson, service, WatchReader } from "./test_helpers.ts";

Deno.test("failNext fails exactly the next n requests with that status and a Status body", async () => {
  const server = await startFakeApiServer({ objects: [service("a")] });
  try {
    server.failNext(2);
    const first = await fetchJson(`${server.url}/api/v1/services`);
    assert.equal(first.status, 500);
    assert.equal(first.body.kind, "Status");
    assert.equal(first.body.reason, "InternalError");
    assert.equal(first.body.code, 500);
    assert.equal((await fetchJson(`${server.url}/healthz`)).status, 500);
    assert.equal((await fetchJson(`${server.url}/api/v1/services`)).status, 200);
    server.failNext(1, 429);
    const throttled = await fetchJson(`${server.url}/api/v1/services?watch=true`);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.body.reason, "TooManyRequests");
    assert.equal(throttled.headers.get("retry-after"), "1");
    assert.equal((await fetchJson(`${server.url}/healthz`)).body, "ok");
  } finally {
    await server.close();
  }
});

Deno.test("refuseConnections drops connections and refuses new ones until it is lifted, on the same port", async () => {
  const server = await startFakeApiServer({ objects: [service("a")] });
  const watch = await WatchReader.open(
    `${server.url}/api/v1/services?watch=true&resourceVersion=${server.resourceVersion}`,
  );
  try {
    await server.refuseConnections(true);
    // The open watch is dropped: it ends, cleanly or with an error, and sends nothing more.
    const outcome = await watch.next(2000).then(
      (e) => e === undefined ? "ended" : `event ${e.type}`,
      (e) => /no watch event/.test(String(e)) ? "still open" : "dropped",
    );
    assert.ok(outcome === "ended" || outcome === "dropped", outcome);
    await assert.rejects(fetch(`${server.url}/healthz`), TypeError);
    await server.refuseConnections(false);
    const res = await fetchJson(`${server.url}/api/v1/services`);
    assert.equal(res.status, 200);
    assert.equal(res.body.items.length, 1);
  } finally {
    await watch.close();
    await server.close();
  }
});

Deno.test("discovery documents describe the served resources as a real API server does", async () => {
  const server = await startFakeApiServer();
  try {
    const get = async (path: string) => (await fetchJson(`${server.url}${path}`)).body;
    const version = await get("/version");
    assert.match(version.gitVersion, /^v1\.\d+\.\d+$/);
    const api = await get("/api");
    assert.equal(api.kind, "APIVersions");
    assert.deepEqual(api.versions, ["v1"]);
    const apis = await get("/apis");
    assert.equal(apis.kind, "APIGroupList");
    assert.deepEqual(apis.groups.map((g: { name: string }) => g.name), [
      "discovery.k8s.io",
      "events.k8s.io",
    ]);
    const core = await get("/api/v1");
    assert.equal(core.kind, "APIResourceList");
    assert.equal(core.groupVersion, "v1");
    const services = core.resources.find((r: { name: string }) => r.name === "services");
    assert.deepEqual(
      [services.singularName, services.namespaced, services.kind, services.shortNames],
      ["service", true, "Service", ["svc"]],
    );
    assert.ok(services.verbs.includes("watch"));
    const nodes = core.resources.find((r: { name: string }) => r.name === "nodes");
    assert.equal(nodes.namespaced, false);
    const slices = await get("/apis/discovery.k8s.io/v1");
    assert.equal(slices.groupVersion, "discovery.k8s.io/v1");
    assert.equal(slices.resources[0].kind, "EndpointSlice");
    const events = await get("/apis/events.k8s.io/v1");
    assert.equal(events.resources[0].name, "events");
    assert.equal((await fetchJson(`${server.url}/apis/apps/v1`)).status, 404);
    assert.equal(await get("/healthz"), "ok");
  } finally {
    await server.close();
  }
});

Deno.test("a client that prefers protobuf but accepts JSON gets JSON; protobuf alone gets 406", async () => {
  const server = await startFakeApiServer({ objects: [service("a")] });
  try {
    const both = await fetchJson(`${server.url}/api/v1/services`, {
      headers: { accept: "application/vnd.kubernetes.protobuf, application/json" },
    });
    assert.equal(both.status, 200);
    assert.equal(both.headers.get("content-type"), "application/json");
    assert.equal(both.body.kind, "ServiceList");
    const only = await fetchJson(`${server.url}/api/v1/services`, {
      headers: { accept: "application/vnd.kubernetes.protobuf" },
    });
    assert.equal(only.status, 406);
    assert.equal(only.body.reason, "NotAcceptable");
  } finally {
    await server.close();
  }
});

Deno.test("kubectl's as=Table Accept gets a meta.k8s.io/v1 Table with the object metadata in each row", async () => {
  const server = await startFakeApiServer({ objects: [service("a", "x")] });
  try {
    const { body } = await fetchJson(`${server.url}/api/v1/services`, {
      headers: {
        accept:
          "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
      },
    });
    assert.equal(body.kind, "Table");
    assert.equal(body.apiVersion, "meta.k8s.io/v1");
    assert.deepEqual(
      body.columnDefinitions.map((c: { name: string }) => c.name),
      ["Name", "Type", "Cluster-IP", "Port(s)", "Age"],
    );
    assert.deepEqual(body.rows[0].cells.slice(0, 4), ["a", "ClusterIP", "10.96.0.10", "80/TCP"]);
    assert.equal(body.rows[0].object.kind, "PartialObjectMetadata");
    assert.equal(body.rows[0].object.metadata.namespace, "x");
  } finally {
    await server.close();
  }
});
