/**
 * The command line against the fake API server, as an operator runs it on a node of a real
 * cluster: `--dry-run --once` over `--master`, over a kubeconfig with a client certificate
 * (HTTPS), the Starting event, and what it says when the lists cannot complete.
 */
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import { scriptedRunner } from "../../backends/exec/command.ts";
import { startFakeApiServer } from "../fake_apiserver/fake_apiserver.ts";
import { makeTestPki } from "../fake_apiserver/pki.ts";
import { endpointSlice, node, service } from "./objects.ts";

const CONFIG = new URL("../../examples/kubeadm.yaml", import.meta.url).pathname;
const FAST = { backoff: { initialMs: 20, maxMs: 100 }, random: () => 0 };

async function run(args: string[], listTimeoutMs = 5000) {
  let stdout = "";
  const stderr: string[] = [];
  const code = await main(args, {
    stdout: (text) => stdout += text,
    stderr: (line) => stderr.push(line),
    env: {},
    hostname: () => "node-a",
    run: scriptedRunner({}),
    defaultBackend: "exec",
    listTimeoutMs,
    reflectorTuning: FAST,
  });
  return { code, stdout, stderr };
}

const CLUSTER = [
  service("web", "10.0.0.80", 80),
  endpointSlice("web-1", "web", ["10.244.1.5", "10.244.2.6"], 8080),
  node("node-a", "192.168.0.10"),
];

Deno.test("--dry-run --once against --master prints the plan of the API's objects", async () => {
  const server = await startFakeApiServer({ objects: CLUSTER });
  try {
    const result = await run([
      "--config",
      CONFIG,
      "--master",
      server.url,
      "--dry-run",
      "--once",
      "--output",
      "json",
    ]);
    assert.equal(result.code, 0, result.stderr.join("\n"));
    const state = JSON.parse(result.stdout);
    const web = state.virtualServers.find((v: { address: string }) => v.address === "10.0.0.80");
    assert.deepEqual(web.realServers.map((r: { address: string }) => r.address).sort(), [
      "10.244.1.5",
      "10.244.2.6",
    ]);
    assert.ok(result.stderr.includes("Using ipvs Proxier."));
    // kube-proxy's birth cry, on this node.
    const [event] = server.events;
    assert.equal(event.reason, "Starting");
    assert.equal(event.action, "StartKubeProxy");
    assert.deepEqual(event.regarding, { kind: "Node", name: "node-a", uid: "node-a" });
  } finally {
    await server.close();
  }
});

Deno.test("a kubeconfig with a client certificate reads the cluster over HTTPS", async () => {
  const pki = await makeTestPki();
  const server = await startFakeApiServer({
    objects: CLUSTER,
    tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert },
  });
  try {
    const kubeconfig = `${pki.dir}/kubeconfig`;
    await Deno.writeTextFile(
      kubeconfig,
      `apiVersion: v1
kind: Config
current-context: lab
contexts: [{name: lab, context: {cluster: lab, user: proxy}}]
clusters: [{name: lab, cluster: {server: "${server.httpsUrl}", certificate-authority: ${
        pki.ca.certFile.split("/").at(-1)
      }}}]
users: [{name: proxy, user: {client-certificate: ${pki.client.certFile}, client-key: ${pki.client.keyFile}}}]
`,
    );
    const result = await run([
      "--config",
      CONFIG,
      "--kubeconfig",
      kubeconfig,
      "--dry-run",
      "--once",
    ]);
    assert.equal(result.code, 0, result.stderr.join("\n"));
    assert.match(result.stdout, /-A -t 10\.0\.0\.80:80 -s rr/);
    const users = new Set(server.requests.map((r) => r.user));
    assert.deepEqual([...users], ["system:kube-proxy"]);
    assert.ok(server.requests.every((r) => r.scheme === "https"));
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("--once exits 1 naming the server and the error when a list is forbidden", async () => {
  const server = await startFakeApiServer({
    objects: CLUSTER,
    forbid: [{ resource: "endpointslices", verb: "list" }],
  });
  try {
    const result = await run(
      ["--config", CONFIG, "--master", server.url, "--dry-run", "--once"],
      500,
    );
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "", "nothing on stdout before a sync");
    const error = result.stderr.at(-1)!;
    assert.match(
      error,
      new RegExp(`^error: cannot list the cluster from the API at ${server.url}`),
    );
    assert.match(
      error,
      /endpointslices from .*403 Forbidden: endpointslices\.discovery\.k8s\.io is forbidden/,
    );
    assert.ok(!result.stderr.includes("Using ipvs Proxier."), "nothing was opened");
  } finally {
    await server.close();
  }
});

Deno.test("--once exits 1 naming the server when nothing answers", async () => {
  const server = await startFakeApiServer({});
  const url = server.url;
  await server.close();
  const result = await run(["--config", CONFIG, "--master", url, "--dry-run", "--once"], 300);
  assert.equal(result.code, 1);
  assert.match(result.stderr.at(-1)!, new RegExp(`cannot list the cluster from the API at ${url}`));
  assert.match(
    result.stderr.at(-1)!,
    /services from .*: GET .*\/api\/v1\/services: .*(ECONNREFUSED|refused)/i,
  );
});

Deno.test("a refused Event is not a failure", async () => {
  const server = await startFakeApiServer({
    objects: CLUSTER,
    forbid: [{ resource: "events", verb: "create" }],
  });
  try {
    const result = await run(["--config", CONFIG, "--master", server.url, "--dry-run", "--once"]);
    assert.equal(result.code, 0, result.stderr.join("\n"));
    assert.equal(server.events.length, 0);
  } finally {
    await server.close();
  }
});

Deno.test("--manifests wins over a kubeconfig: a dry run over files needs no server", async () => {
  const examples = new URL("../../examples/cluster", import.meta.url).pathname;
  const result = await run([
    "--config",
    CONFIG,
    "--kubeconfig",
    "/nonexistent/kubeconfig",
    "--manifests",
    examples,
    "--dry-run",
    "--once",
    "--hostname-override",
    "node-a",
  ]);
  assert.equal(result.code, 0, result.stderr.join("\n"));
});
