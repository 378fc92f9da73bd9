/**
 * Holds the fake API server to a real client: kubectl (Debian 12's 1.20, from
 * install_kubectl.sh) over HTTPS, with a client certificate and with a bearer token.
 */

import assert from "node:assert/strict";
import { type FakeApiServer, type KubeObject, startFakeApiServer } from "./fake_apiserver.ts";
import { isRealKubectlVersion, kubectlOrSkip, writeKubeconfig } from "./kubectl.ts";
import { makeTestPki } from "./pki.ts";
import { endpointSlice, type Json, node, service } from "./test_helpers.ts";

interface Fixture {
  readonly server: FakeApiServer;
  /** kubectl with the client-certificate kubeconfig (or the token one); resolves with stdout. */
  readonly run: (args: string[], auth?: "cert" | "token") => Promise<string>;
  /** The argv prefix for a long-running kubectl. */
  readonly argv: (auth?: "cert" | "token") => string[];
  readonly home: string;
}

const OBJECTS: KubeObject[] = [
  service("web", "default", { app: "web" }),
  service("dns", "kube-system", { "k8s-app": "kube-dns" }),
  service("headless", "default", { "service.kubernetes.io/headless": "" }),
  endpointSlice("web-abcde", "default", "web"),
  endpointSlice("dns-fghij", "kube-system", "dns"),
  node("node-a"),
];

async function withKubectl(fn: (kubectl: string, f: Fixture) => Promise<void>): Promise<void> {
  const kubectl = await kubectlOrSkip();
  if (kubectl === undefined) return;
  const pki = await makeTestPki();
  const server = await startFakeApiServer({
    tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert },
    tokens: [{ token: "kubectl-test-token", user: "system:serviceaccount:kube-system:kube-proxy" }],
    objects: OBJECTS,
  });
  try {
    await writeKubeconfig(`${pki.dir}/cert.kubeconfig`, server.httpsUrl!, pki.ca.certFile, {
      clientCertificate: pki.client.certFile,
      clientKey: pki.client.keyFile,
    });
    await writeKubeconfig(`${pki.dir}/token.kubeconfig`, server.httpsUrl!, pki.ca.certFile, {
      token: "kubectl-test-token",
    });
    const argv = (auth: "cert" | "token" = "cert") => [
      kubectl,
      "--kubeconfig",
      `${pki.dir}/${auth}.kubeconfig`,
      "--cache-dir",
      `${pki.dir}/cache-${auth}`,
    ];
    const run = async (args: string[], auth: "cert" | "token" = "cert") => {
      const [cmd, ...pre] = argv(auth);
      const out = await new Deno.Command(cmd, {
        args: [...pre, ...args],
        env: { HOME: pki.dir },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(30_000),
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `kubectl ${args.join(" ")} failed: ${stderr}`);
      return new TextDecoder().decode(out.stdout);
    };
    await fn(kubectl, { server, run, argv, home: pki.dir });
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
}

Deno.test("kubectl get services,endpointslices -A -o json returns exactly the stored objects", async () => {
  await withKubectl(async (_kubectl, { server, run }) => {
    const list = JSON.parse(await run(["get", "services,endpointslices", "-A", "-o", "json"]));
    assert.equal(list.kind, "List");
    const stored = [...server.list("Service"), ...server.list("EndpointSlice")];
    assert.deepEqual(list.items, stored);
    const lists = server.requests.filter((r) => /services|endpointslices/.test(r.path));
    assert.deepEqual(lists.map((r) => [r.path, r.user]), [
      ["/api/v1/services", "system:kube-proxy"],
      ["/apis/discovery.k8s.io/v1/endpointslices", "system:kube-proxy"],
    ]);
  });
});

Deno.test("kubectl pages through 1,200 Services with limit and continue and gets them all", async () => {
  await withKubectl(async (_kubectl, { server, run }) => {
    server.bulkLoad(Array.from({ length: 1200 }, (_, i) => service(`bulk-${i}`, "bulk")));
    const list = JSON.parse(await run(["get", "services", "-n", "bulk", "-o", "json"]));
    assert.equal(list.items.length, 1200);
    const pages = server.requests.filter((r) => r.path === "/api/v1/namespaces/bulk/services");
    assert.equal(pages.length, 3);
    assert.deepEqual(pages.map((p) => p.query.limit), ["500", "500", "500"]);
    assert.equal(pages[0].query.continue, undefined);
    assert.ok(pages[1].query.continue && pages[2].query.continue);
  });
});

Deno.test("kubectl with a bearer token gets one Node by name as stored", async () => {
  await withKubectl(async (_kubectl, { server, run }) => {
    const got = JSON.parse(await run(["get", "nodes", "node-a", "-o", "json"], "token"));
    assert.deepEqual(got, server.get("Node", "", "node-a"));
    const request = server.requests.find((r) => r.path === "/api/v1/nodes/node-a");
    assert.equal(request?.user, "system:serviceaccount:kube-system:kube-proxy");
  });
});

Deno.test("kubectl get services -A prints a table with every Service's namespace and name", async () => {
  await withKubectl(async (_kubectl, { run }) => {
    const out = await run(["get", "services", "-A"]);
    const rows = out.trim().split("\n").map((line) => line.split(/\s+/));
    assert.deepEqual(rows[0].slice(0, 3), ["NAMESPACE", "NAME", "TYPE"]);
    assert.deepEqual(rows.slice(1).map((r) => `${r[0]}/${r[1]}`), [
      "default/headless",
      "default/web",
      "kube-system/dns",
    ]);
  });
});

Deno.test("kubectl get services --selector '!service.kubernetes.io/headless' leaves headless Services out", async () => {
  await withKubectl(async (_kubectl, { server, run }) => {
    const out = await run([
      "get",
      "services",
      "-A",
      "--selector",
      "!service.kubernetes.io/headless",
    ]);
    const names = out.trim().split("\n").slice(1).map((line) => line.split(/\s+/)[1]);
    assert.deepEqual(names, ["web", "dns"]);
    const request = server.requests.find((r) => r.path === "/api/v1/services");
    assert.equal(request?.query.labelSelector, "!service.kubernetes.io/headless");
  });
});

/** Splits kubectl's stream of pretty-printed JSON objects into the objects. */
function splitJsonObjects(text: string): { objects: Json[]; rest: string } {
  const objects: Json[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}" && --depth === 0) {
      objects.push(JSON.parse(text.slice(start, i + 1)));
      start = i + 1;
    }
  }
  return { objects, rest: depth === 0 ? "" : text.slice(start) };
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A long-running kubectl whose stdout is collected as it comes. */
function spawnKubectl(
  f: Fixture,
  args: string[],
): { stdout: () => string; stop: () => Promise<void> } {
  const [cmd, ...pre] = f.argv();
  const child = new Deno.Command(cmd, {
    args: [...pre, ...args],
    env: { HOME: f.home },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let text = "";
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  return {
    stdout: () => text,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await reading;
    },
  };
}

Deno.test("kubectl get services -A --watch -o json prints an added and a removed Service", async () => {
  await withKubectl(async (_kubectl, f) => {
    const { server } = f;
    const kubectl = spawnKubectl(f, ["get", "services", "-A", "--watch", "-o", "json"]);
    const objects = () => splitJsonObjects(kubectl.stdout()).objects;
    try {
      await until("kubectl's watch", () => server.openWatches === 1 && objects().length === 3);
      const added = server.upsert(service("new-svc", "default")) as Json;
      server.remove("Service", "kube-system", "dns");
      await until("both changes in kubectl's output", () => objects().length === 5);
      const printed = objects();
      assert.deepEqual(printed.slice(0, 3).map((o) => o.metadata.name), ["headless", "web", "dns"]);
      assert.deepEqual(printed[3], added);
      assert.equal(printed[4].metadata.name, "dns");
      assert.equal(printed[4].metadata.resourceVersion, server.resourceVersion);
      const watch = server.requests.find((r) => r.query.watch === "true");
      assert.equal(watch?.path, "/api/v1/services");
      assert.match(watch?.query.resourceVersion ?? "", /^\d+$/);
    } finally {
      await kubectl.stop();
    }
  });
});

Deno.test("kubectl get services -A --watch prints an added Service as one more table row", async () => {
  await withKubectl(async (_kubectl, f) => {
    const kubectl = spawnKubectl(f, ["get", "services", "-A", "--watch"]);
    const lines = () => kubectl.stdout().split("\n").filter((l) => l.trim() !== "");
    try {
      await until("kubectl's watch", () => f.server.openWatches === 1 && lines().length === 4);
      f.server.upsert(service("new-svc", "default"));
      await until("the new row", () => lines().length === 5);
      const rows = lines().map((l) => l.split(/\s+/));
      assert.deepEqual(rows[0].slice(0, 5), ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "PORT(S)"]);
      assert.deepEqual(rows[4].slice(0, 5), [
        "default",
        "new-svc",
        "ClusterIP",
        "10.96.0.10",
        "80/TCP",
      ]);
    } finally {
      await kubectl.stop();
    }
  });
});

Deno.test("the kubectl finder accepts real 1.x clients and refuses the gcloud dispatcher", () => {
  assert.ok(isRealKubectlVersion(
    'Client Version: version.Info{Major:"1", Minor:"20", GitVersion:"v1.20.2", GitCommit:"faecb19"}',
  ));
  assert.ok(isRealKubectlVersion("Client Version: v1.30.1\nKustomize Version: v5.0.4\n"));
  assert.ok(!isRealKubectlVersion("Client Version: v1.32.4-dispatcher\nKustomize Version: v5.5.0"));
  assert.ok(!isRealKubectlVersion("gcloud: command not found"));
});
