import assert from "node:assert/strict";
import { startFakeApiServer } from "./fake_apiserver.ts";
import { makeTestPki, type TestPki } from "./pki.ts";
import { fetchJson, service } from "./test_helpers.ts";

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

async function withPki(fn: (pki: TestPki) => Promise<void>): Promise<void> {
  const pki = await makeTestPki();
  try {
    await fn(pki);
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
}

Deno.test("a token is refused with 401 Unauthorized once setTokens has replaced it", async () => {
  const server = await startFakeApiServer({ tokens: ["old"] });
  try {
    assert.equal((await fetchJson(`${server.url}/api/v1/services`, bearer("old"))).status, 200);
    server.setTokens(["new", { token: "other", user: "alice" }]);
    const refused = await fetchJson(`${server.url}/api/v1/services`, bearer("old"));
    assert.equal(refused.status, 401);
    assert.deepEqual(refused.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Unauthorized",
      reason: "Unauthorized",
      code: 401,
    });
    assert.equal((await fetchJson(`${server.url}/api/v1/services`, bearer("new"))).status, 200);
    assert.equal((await fetchJson(`${server.url}/api/v1/nodes`, bearer("other"))).status, 200);
    assert.equal((await fetchJson(`${server.url}/api/v1/nodes`)).status, 401);
    assert.deepEqual(
      server.requests.map((r) => r.user),
      ["system:kube-proxy", undefined, "system:kube-proxy", "alice", undefined],
    );
    assert.equal(server.requests[0].headers.authorization, "Bearer old");
  } finally {
    await server.close();
  }
});

Deno.test("a client certificate signed by the test CA authenticates as its CN over HTTPS with Deno's fetch", async () => {
  await withPki(async (pki) => {
    const server = await startFakeApiServer({
      tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert },
      objects: [service("a")],
    });
    const withCert = Deno.createHttpClient({
      caCerts: [pki.ca.cert],
      cert: pki.client.cert,
      key: pki.client.key,
    });
    const caOnly = Deno.createHttpClient({ caCerts: [pki.ca.cert] });
    try {
      assert.match(server.httpsUrl!, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ok = await fetchJson(`${server.httpsUrl}/api/v1/services`, { client: withCert });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.items.length, 1);
      const viaName = server.httpsUrl!.replace("127.0.0.1", "localhost");
      assert.equal((await fetchJson(`${viaName}/version`, { client: withCert })).status, 200);
      const anonymous = await fetchJson(`${server.httpsUrl}/api/v1/services`, { client: caOnly });
      assert.equal(anonymous.status, 401);
      assert.deepEqual(
        server.requests.map((r) => [r.scheme, r.user]),
        [["https", "system:kube-proxy"], ["https", "system:kube-proxy"], ["https", undefined]],
      );
    } finally {
      withCert.close();
      caOnly.close();
      await server.close();
    }
  });
});

Deno.test("a client certificate from another CA is refused with 401", async () => {
  await withPki(async (pki) => {
    await withPki(async (other) => {
      const server = await startFakeApiServer({
        tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert },
      });
      const client = Deno.createHttpClient({
        caCerts: [pki.ca.cert],
        cert: other.client.cert,
        key: other.client.key,
      });
      try {
        const res = await fetchJson(`${server.httpsUrl}/api/v1/services`, { client });
        assert.equal(res.status, 401);
      } finally {
        client.close();
        await server.close();
      }
    });
  });
});

Deno.test("a forbidden request gets 403 worded as the real API server words it", async () => {
  const server = await startFakeApiServer({
    tokens: ["t"],
    forbid: [{ resource: "services", verb: "list" }, { resource: "endpointslices" }],
  });
  try {
    const list = await fetchJson(`${server.url}/api/v1/services`, bearer("t"));
    assert.equal(list.status, 403);
    assert.deepEqual(list.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        'services is forbidden: User "system:kube-proxy" cannot list resource "services" in API group "" at the cluster scope',
      reason: "Forbidden",
      details: { kind: "services" },
      code: 403,
    });
    const watch = await fetchJson(
      `${server.url}/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices?watch=true`,
      bearer("t"),
    );
    assert.equal(watch.status, 403);
    assert.equal(
      watch.body.message,
      'endpointslices.discovery.k8s.io is forbidden: User "system:kube-proxy" cannot watch resource "endpointslices" in API group "discovery.k8s.io" in the namespace "kube-system"',
    );
    assert.deepEqual(watch.body.details, { group: "discovery.k8s.io", kind: "endpointslices" });
    const watchServices = await fetch(`${server.url}/api/v1/services?watch=true`, bearer("t"));
    assert.equal(watchServices.status, 200);
    await watchServices.body?.cancel();
    server.setForbidden([{ resource: "nodes", verb: "get", user: "system:kube-proxy" }]);
    const get = await fetchJson(`${server.url}/api/v1/nodes/node-a`, bearer("t"));
    assert.equal(
      get.body.message,
      'nodes "node-a" is forbidden: User "system:kube-proxy" cannot get resource "nodes" in API group "" at the cluster scope',
    );
    assert.equal((await fetchJson(`${server.url}/api/v1/services`, bearer("t"))).status, 200);
  } finally {
    await server.close();
  }
});
