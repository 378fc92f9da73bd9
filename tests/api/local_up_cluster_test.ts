/**
 * hack/local-up-cluster.sh runs `sudo "${GO_OUT}/kube-proxy" --v=3 --config=FILE
 * --master=URL --healthz-port=... --healthz-bind-address=... --metrics-port=...
 * --metrics-bind-address=...`. Here that exact command line goes through the
 * `deploy/local-up-cluster/kube-proxy` wrapper, with local-up-cluster's own config file, against
 * the fake API server over HTTPS with a client certificate (as local-up-cluster's kubeconfig
 * has), plus `--dry-run --once` so the host's kernel is not touched.
 */
import assert from "node:assert/strict";
import { startFakeApiServer } from "../fake_apiserver/fake_apiserver.ts";
import { makeTestPki } from "../fake_apiserver/pki.ts";
import { endpointSlice, node, service } from "./objects.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURE = `${ROOT}src/config/testdata/local-up-cluster-kube-proxy.yaml`;

Deno.test("local-up-cluster's kube-proxy command line runs through the wrapper against the API", async () => {
  const pki = await makeTestPki();
  const server = await startFakeApiServer({
    objects: [
      service("kubernetes", "10.0.0.1", 443),
      endpointSlice("kubernetes", "kubernetes", ["192.168.0.1"], 6443),
      node("127.0.0.1", "192.168.0.10"),
    ],
    tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert },
  });
  try {
    const kubeconfig = `${pki.dir}/kube-proxy.kubeconfig`;
    await Deno.writeTextFile(
      kubeconfig,
      `apiVersion: v1
kind: Config
current-context: local-up-cluster
contexts: [{name: local-up-cluster, context: {cluster: local-up-cluster, user: kube-proxy}}]
clusters: [{name: local-up-cluster, cluster: {server: "https://localhost:6443", certificate-authority: ${pki.ca.certFile}}}]
users: [{name: kube-proxy, user: {client-certificate: ${pki.client.certFile}, client-key: ${pki.client.keyFile}}}]
`,
    );
    // local-up-cluster's file, its kubeconfig path pointed at ours.
    const config = `${pki.dir}/kube-proxy.yaml`;
    await Deno.writeTextFile(
      config,
      (await Deno.readTextFile(FIXTURE)).replace(
        "/var/run/kubernetes/kube-proxy.kubeconfig",
        kubeconfig,
      ),
    );
    // An `ipvs-proxy` command on PATH, as deploy/install.sh puts one there.
    const bin = `${pki.dir}/bin`;
    await Deno.mkdir(bin);
    await Deno.writeTextFile(
      `${bin}/ipvs-proxy`,
      `#!/bin/sh\nexec "${Deno.execPath()}" run -A --config "${ROOT}deno.json" "${ROOT}mod.ts" "$@"\n`,
    );
    await Deno.chmod(`${bin}/ipvs-proxy`, 0o755);
    const output = await new Deno.Command(`${ROOT}deploy/local-up-cluster/kube-proxy`, {
      args: [
        "--v=3",
        `--config=${config}`,
        `--master=${server.httpsUrl}`,
        "--healthz-port=10256",
        "--healthz-bind-address=127.0.0.1",
        "--metrics-port=10249",
        "--metrics-bind-address=127.0.0.1",
        "--dry-run",
        "--once",
      ],
      env: { PATH: `${bin}:${Deno.env.get("PATH") ?? ""}`, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    const stdout = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0, stderr);
    assert.match(stderr, /Using ipvs Proxier\./);
    assert.match(stdout, /-A -t 10\.0\.0\.1:443 -s rr/);
    assert.match(stdout, /-a -t 10\.0\.0\.1:443 -r 192\.168\.0\.1:6443 -m -w 1/);
    // kube-proxy ignores the port flags with --config, and says so here.
    assert.match(stderr, /--healthz-port/);
    // The node is named by the file's hostnameOverride; its Node object was read.
    const nodeRequests = server.requests.filter((r) => r.path === "/api/v1/nodes");
    assert.ok(nodeRequests.every((r) => r.query.fieldSelector === "metadata.name=127.0.0.1"));
    assert.ok(server.requests.every((r) => r.user === "system:kube-proxy"));
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});
