import assert from "node:assert/strict";
import { KubeconfigError, loadKubeconfig } from "./kubeconfig.ts";
import { resolveConnection, SERVICE_ACCOUNT_DIR } from "./connection.ts";

import { YAML_PERMISSIONS } from "../test_helpers.ts";

const test = (name: string, fn: () => void) =>
  Deno.test({ name, permissions: YAML_PERMISSIONS, fn });

const KUBECONFIG = `
apiVersion: v1
kind: Config
current-context: lab
contexts:
- name: lab
  context: {cluster: lab, user: proxy}
- name: other
  context: {cluster: other, user: plugin}
clusters:
- name: lab
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority: pki/ca.crt
- name: other
  cluster:
    server: https://other.example:443
    certificate-authority-data: ${btoa("CA-PEM")}
    insecure-skip-tls-verify: true
users:
- name: proxy
  user:
    client-certificate: /etc/pki/proxy.crt
    client-key-data: ${btoa("KEY-PEM")}
- name: plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: bin/get-token
      args: [--cluster, other]
      env: [{name: REGION, value: eu}]
`;

const files: Record<string, string> = {
  "/etc/kubernetes/pki/ca.crt": "CA-FILE-PEM",
  "/etc/pki/proxy.crt": "CERT-PEM",
};
const readText = (path: string) => {
  if (path in files) return files[path];
  throw new Deno.errors.NotFound(path);
};

test("the current context's cluster and user are used, files relative to the kubeconfig", () => {
  const c = loadKubeconfig("/etc/kubernetes/proxy.conf", KUBECONFIG, { readText });
  assert.equal(c.server.href, "https://10.0.0.1:6443/");
  assert.deepEqual(c.tls, {
    caCerts: ["CA-FILE-PEM"],
    insecureSkipTlsVerify: false,
    clientCert: { cert: "CERT-PEM", key: "KEY-PEM" },
  });
  assert.deepEqual(c.credentials, { kind: "none" });
  assert.equal(c.origin, 'kubeconfig "/etc/kubernetes/proxy.conf" (context "lab")');
});

test("a named context gives inline CA data, insecure-skip-tls-verify and an exec plugin", () => {
  const c = loadKubeconfig("/etc/kubernetes/proxy.conf", KUBECONFIG, {
    readText,
    context: "other",
  });
  assert.deepEqual(c.tls, {
    caCerts: ["CA-PEM"],
    insecureSkipTlsVerify: true,
    clientCert: undefined,
  });
  assert.deepEqual(c.credentials, {
    kind: "exec",
    plugin: {
      command: "/etc/kubernetes/bin/get-token",
      args: ["--cluster", "other"],
      env: { REGION: "eu" },
      apiVersion: "client.authentication.k8s.io/v1beta1",
    },
  });
});

test("token, tokenFile and username/password users give their credentials", () => {
  const user = (fields: string) =>
    loadKubeconfig(
      "/k/config",
      `current-context: c
contexts: [{name: c, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "http://127.0.0.1:8080"}}]
users: [{name: u, user: ${fields}}]`,
    ).credentials;
  assert.deepEqual(user("{token: abc}"), { kind: "token", token: "abc" });
  assert.deepEqual(user("{tokenFile: t/token}"), { kind: "tokenFile", path: "/k/t/token" });
  assert.deepEqual(user("{username: admin, password: pw}"), {
    kind: "basic",
    username: "admin",
    password: "pw",
  });
});

test("a broken kubeconfig is refused naming the file and the field", () => {
  const refuses = (text: string, message: RegExp) =>
    assert.throws(() => loadKubeconfig("/k/config", text, { readText }), (error) => {
      assert.ok(error instanceof KubeconfigError);
      assert.match(error.message, /^kubeconfig "\/k\/config": /);
      assert.match(error.message, message);
      return true;
    });
  refuses("kind: Config", /no current-context/);
  refuses("current-context: x\ncontexts: []", /contexts: no entry named "x"/);
  refuses(
    "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n" +
      "clusters: [{name: c, cluster: {server: 'ftp://h'}}]",
    /clusters\[c\]\.server: must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/h"/,
  );
  refuses(
    "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n" +
      "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: nope.crt}}]\n" +
      "users: [{name: u, user: {}}]",
    /clusters\[c\]\.certificate-authority: cannot read "nope.crt"/,
  );
  refuses("{[", /not valid YAML/);
});

test("--master overrides the kubeconfig's server and alone needs no credentials", () => {
  const withKubeconfig = resolveConnection({
    kubeconfig: "/etc/kubernetes/proxy.conf",
    master: "https://localhost:6443",
    env: {},
    readText: (path) => path === "/etc/kubernetes/proxy.conf" ? KUBECONFIG : readText(path),
  });
  assert.equal(withKubeconfig.server.href, "https://localhost:6443/");
  assert.equal(withKubeconfig.tls.clientCert?.cert, "CERT-PEM");
  const alone = resolveConnection({ kubeconfig: "", master: "http://127.0.0.1:8080", env: {} });
  assert.deepEqual([alone.server.href, alone.credentials.kind], ["http://127.0.0.1:8080/", "none"]);
});

test("without a kubeconfig or --master a pod uses its service account", () => {
  const c = resolveConnection({
    kubeconfig: "",
    master: "",
    env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" },
    readText: (path) => path === `${SERVICE_ACCOUNT_DIR}/ca.crt` ? "SA-CA" : readText(path),
  });
  assert.equal(c.server.href, "https://[fd00::1]/");
  assert.deepEqual(c.tls.caCerts, ["SA-CA"]);
  assert.deepEqual(c.credentials, { kind: "tokenFile", path: `${SERVICE_ACCOUNT_DIR}/token` });
});

test("no kubeconfig, no --master and no pod environment say what to give", () => {
  assert.throws(
    () => resolveConnection({ kubeconfig: "", master: "", env: {} }),
    /give --kubeconfig FILE, .* or read manifests with --manifests PATH/,
  );
  assert.throws(
    () => resolveConnection({ kubeconfig: "/nope", master: "", env: {}, readText }),
    /cannot read kubeconfig "\/nope": no such file/,
  );
});
