/**
 * Everything under deploy/ parses, and the pieces fit together: the DaemonSet runs the command
 * the install script creates, as the ServiceAccount the RBAC binds, with the ConfigMap's
 * config (which the proxy itself accepts without a warning) where its command line says; the
 * image, the systemd unit and the local-up-cluster wrapper use the same command.
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { resolveConfig } from "../src/config/load.ts";
import { runCommand } from "../backends/exec/command.ts";

const DEPLOY = new URL("../deploy/", import.meta.url);
const path = (name: string) => new URL(name, DEPLOY).pathname;
const read = (name: string) => Deno.readTextFileSync(path(name));

// deno-lint-ignore no-explicit-any
type Obj = any;

/** Every file under deploy/, relative. */
function deployFiles(dir = "", out: string[] = []): string[] {
  for (const entry of Deno.readDirSync(path(dir || "."))) {
    const name = `${dir}${entry.name}`;
    if (entry.isDirectory) deployFiles(`${name}/`, out);
    else out.push(name);
  }
  return out.sort();
}

/** Every Kubernetes object of every YAML file, each document parsed without an error. */
function manifests(): Obj[] {
  const objects: Obj[] = [];
  for (const file of deployFiles().filter((f) => f.endsWith(".yaml"))) {
    for (const doc of parseAllDocuments(read(file))) {
      assert.deepEqual(doc.errors, [], `${file} does not parse`);
      const value = doc.toJS();
      if (value !== null) objects.push({ ...value, file });
    }
  }
  return objects;
}

function one(objects: Obj[], kind: string): Obj {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `expected one ${kind}, found ${found.length}`);
  return found[0];
}

/** The default command path of deploy/install.sh. */
function installedCommand(): string {
  const bin = /^BIN_DIR=\$\{IPVS_PROXY_BIN:-([^}]+)\}$/m.exec(read("install.sh"))?.[1];
  assert.ok(bin, "install.sh sets BIN_DIR from IPVS_PROXY_BIN with a default");
  return `${bin}/ipvs-proxy`;
}

Deno.test("every file under deploy/ is a known kind and every YAML document parses", () => {
  const files = deployFiles();
  for (const file of files) {
    assert.match(
      file,
      /\.(yaml|sh|service|dockerignore)$|^Containerfile$|^local-up-cluster\/kube-proxy$/,
      `unexpected file deploy/${file}`,
    );
  }
  const kinds = manifests().map((o) => o.kind).sort();
  assert.deepEqual(kinds, [
    "ClusterRole",
    "ClusterRoleBinding",
    "ConfigMap",
    "DaemonSet",
    "Kustomization",
    "ServiceAccount",
  ]);
  const kustomization = one(manifests(), "Kustomization");
  const yamlFiles = files.filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
  assert.deepEqual([...kustomization.resources].sort(), yamlFiles);
});

Deno.test("the DaemonSet runs like kubeadm's kube-proxy", () => {
  const ds = one(manifests(), "DaemonSet");
  assert.equal(ds.apiVersion, "apps/v1");
  assert.equal(ds.metadata.namespace, "kube-system");
  assert.deepEqual(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels);
  assert.equal(ds.spec.updateStrategy.type, "RollingUpdate");
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.priorityClassName, "system-node-critical");
  assert.deepEqual(pod.nodeSelector, { "kubernetes.io/os": "linux" });
  assert.ok(
    pod.tolerations.some((t: Obj) => t.operator === "Exists" && t.key === undefined),
    "tolerates every taint",
  );
  assert.equal(pod.containers.length, 1);
  const [container] = pod.containers;
  assert.equal(container.securityContext.privileged, true);
  assert.deepEqual(container.env, [{
    name: "NODE_NAME",
    valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } },
  }]);
  assert.equal(container.command[0], installedCommand());
  assert.ok(container.command.includes("--hostname-override=$(NODE_NAME)"));
  const mount = (mountPath: string) => {
    const m = container.volumeMounts.find((v: Obj) => v.mountPath === mountPath);
    assert.ok(m, `mounts ${mountPath}`);
    return { mount: m, volume: pod.volumes.find((v: Obj) => v.name === m.name) };
  };
  const modules = mount("/lib/modules");
  assert.equal(modules.mount.readOnly, true);
  assert.equal(modules.volume.hostPath.path, "/lib/modules");
  const lock = mount("/run/xtables.lock");
  assert.notEqual(lock.mount.readOnly, true);
  assert.deepEqual(lock.volume.hostPath, { path: "/run/xtables.lock", type: "FileOrCreate" });
});

Deno.test("the DaemonSet, the RBAC and the ConfigMap fit together", () => {
  const objects = manifests();
  const ds = one(objects, "DaemonSet");
  const sa = one(objects, "ServiceAccount");
  const binding = one(objects, "ClusterRoleBinding");
  const role = one(objects, "ClusterRole");
  const pod = ds.spec.template.spec;
  assert.equal(pod.serviceAccountName, sa.metadata.name);
  assert.equal(sa.metadata.namespace, ds.metadata.namespace);
  assert.deepEqual(binding.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "ClusterRole",
    name: role.metadata.name,
  });
  assert.ok(
    binding.subjects.some((s: Obj) =>
      s.kind === "ServiceAccount" && s.name === sa.metadata.name &&
      s.namespace === sa.metadata.namespace
    ),
  );
  const allows = (group: string, resource: string, verb: string) =>
    role.rules.some((r: Obj) =>
      r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb)
    );
  for (const verb of ["get", "list", "watch"]) {
    assert.ok(allows("", "services", verb), `${verb} services`);
    assert.ok(allows("", "nodes", verb), `${verb} nodes`);
    assert.ok(allows("discovery.k8s.io", "endpointslices", verb), `${verb} endpointslices`);
  }
  for (const verb of ["create", "patch"]) {
    assert.ok(allows("", "events", verb), `${verb} events`);
    assert.ok(allows("events.k8s.io", "events", verb), `${verb} events.k8s.io events`);
  }

  // --config names a key of the ConfigMap mounted at its directory.
  const configMap = one(objects, "ConfigMap");
  assert.equal(configMap.metadata.namespace, ds.metadata.namespace);
  const configFlag = pod.containers[0].command.find((a: string) => a.startsWith("--config="));
  const configPath: string = configFlag.slice("--config=".length);
  const dir = configPath.slice(0, configPath.lastIndexOf("/"));
  const mount = pod.containers[0].volumeMounts.find((m: Obj) => m.mountPath === dir);
  assert.ok(mount, `${dir} is mounted`);
  const volume = pod.volumes.find((v: Obj) => v.name === mount.name);
  assert.equal(volume.configMap.name, configMap.metadata.name);
  const key = configPath.slice(dir.length + 1);
  assert.ok(typeof configMap.data[key] === "string", `the ConfigMap has ${key}`);

  // The proxy itself accepts it, without a warning; its kubeconfig is in the same ConfigMap.
  const { config, warnings } = resolveConfig({
    file: `deploy/configmap.yaml:data.${key}`,
    text: configMap.data[key],
    flags: {},
    env: {},
  });
  assert.deepEqual(warnings, []);
  assert.equal(config.mode, "ipvs");
  assert.equal(config.healthzBindAddress, "0.0.0.0:10256");
  assert.ok(
    config.clientConnection.kubeconfig.startsWith(`${dir}/`),
    config.clientConnection.kubeconfig,
  );
  const kubeconfig = parseAllDocuments(
    configMap.data[config.clientConnection.kubeconfig.slice(dir.length + 1)],
  );
  assert.equal(kubeconfig[0].toJS().kind, "Config");
  assert.equal(
    kubeconfig[0].toJS().users[0].user.tokenFile,
    "/var/run/secrets/kubernetes.io/serviceaccount/token",
  );
});

Deno.test("the image installs with deploy/install.sh, which installs the exec backend's tools", () => {
  const containerfile = read("Containerfile");
  assert.match(containerfile, /^FROM docker\.io\/library\/debian:\S+$/m);
  assert.match(containerfile, /^COPY \. \/opt\/ipvs-proxy$/m);
  assert.match(
    containerfile,
    /IPVS_PROXY_HOME=\/opt\/ipvs-proxy \/opt\/ipvs-proxy\/deploy\/install\.sh/,
  );
  assert.ok(containerfile.includes(`"${installedCommand()}"`), "CMD runs the installed command");
  const packages = /^readonly PACKAGES=\(([^)]*)\)$/m.exec(read("install.sh"))?.[1].split(" ");
  for (const tool of ["ipvsadm", "ipset", "iptables", "iproute2", "kmod", "conntrack"]) {
    assert.ok(packages?.includes(tool), `install.sh installs ${tool}`);
  }
  assert.match(read("install.sh"), /^readonly DENO_VERSION=2\.9\.6$/m);
});

Deno.test("the shell scripts are executable and pass bash -n", async () => {
  for (const file of ["install.sh", "local-up-cluster/kube-proxy"]) {
    assert.ok((Deno.statSync(path(file)).mode! & 0o111) !== 0, `${file} is executable`);
    const result = await runCommand(["bash", "-n", path(file)]);
    assert.equal(result.code, 0, `${file}: ${result.stderr}`);
  }
});

Deno.test("the systemd unit starts the installed command with a config, and systemd accepts it", async () => {
  const unit = read("systemd/ipvs-proxy.service");
  const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1].split(" ") ?? [];
  assert.equal(execStart[0], installedCommand());
  assert.ok(execStart.some((a) => a.startsWith("--config=")));
  assert.match(unit, /^WantedBy=multi-user\.target$/m);
  const verify = await runCommand([
    "systemd-analyze",
    "verify",
    path("systemd/ipvs-proxy.service"),
  ]);
  if (verify.code === 127) return; // no systemd here; the checks above still ran
  // The command is not installed on the machine running the tests: the only complaint allowed.
  const complaints = verify.stderr.split("\n").filter((line) =>
    line.trim() !== "" && !line.includes(`${execStart[0]} is not executable`)
  );
  assert.deepEqual(complaints, []);
});

Deno.test("the local-up-cluster wrapper passes every argument through unchanged", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fake = `${dir}/fake-ipvs-proxy`;
    await Deno.writeTextFile(fake, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done\n`);
    await Deno.chmod(fake, 0o755);
    const args = [
      "--v=3",
      "--config=/tmp/local up/kube-proxy.yaml",
      "--master=https://localhost:6443",
      "--healthz-bind-address=127.0.0.1:10256",
      "",
      "$(not expanded)",
    ];
    const result = await runCommand([
      "env",
      `IPVS_PROXY=${fake}`,
      path("local-up-cluster/kube-proxy"),
      ...args,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.split("\n").slice(0, -1), args);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without an ipvs-proxy command the wrapper runs this checkout's mod.ts with deno", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A PATH with only deno and the basic tools: no ipvs-proxy command on it.
    await Deno.symlink(Deno.execPath(), `${dir}/deno`);
    const result = await runCommand([
      "env",
      "-u",
      "IPVS_PROXY",
      `PATH=${dir}:/usr/bin:/bin`,
      path("local-up-cluster/kube-proxy"),
      "--help",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Usage: ipvs-proxy /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
