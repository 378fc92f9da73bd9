import assert from "node:assert/strict";
import { main } from "./main.ts";
import { type CommandRunner, isWriteCommand, scriptedRunner } from "../../backends/exec/command.ts";
import type { NodeFiles } from "../../backends/exec/node_preparation.ts";

const EXAMPLES = new URL("../../examples/", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string[];
}

/** A node's sysctls and files in memory; `written` holds what node preparation wrote. */
function memoryNodeFiles(): NodeFiles & { readonly written: Map<string, string> } {
  const written = new Map<string, string>();
  const files = new Map([
    ["/sys/module/nf_conntrack/parameters/hashsize", "262144"],
    ["/proc/mounts", "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"],
  ]);
  return {
    written,
    readSysctl: (key) => Promise.resolve(written.get(key) ?? "0"),
    writeSysctl: (key, value) => Promise.resolve(void written.set(key, value)),
    readFile: (path) => Promise.resolve(written.get(path) ?? files.get(path)),
    writeFile: (path, text) => Promise.resolve(void written.set(path, text)),
  };
}

/**
 * Runs the CLI. The exec backend's tools go to `tools`, by default a fake that has none of
 * them, and node preparation's sysctls and files to memory, so no test here can reach the
 * host's kernel (modprobe, sysctls, iptables, ...).
 */
async function run(
  args: string[],
  env: Record<string, string> = {},
  tools: CommandRunner = scriptedRunner({}),
): Promise<Run> {
  let stdout = "";
  const stderr: string[] = [];
  const code = await main(args, {
    stdout: (text) => stdout += text,
    stderr: (line) => stderr.push(line),
    env,
    hostname: () => "Node-A",
    run: tools,
    defaultBackend: "exec",
    nodeFiles: memoryNodeFiles(),
  });
  return { code, stdout, stderr };
}

/** How a kernel without IPVS answers: `ipvsadm -Sn` fails as it does there, modprobe too. */
function withoutIpvs(argv: readonly string[]) {
  const command = argv.join(" ");
  if (command === "ipset --version") return { stdout: "ipset v7.17, protocol version: 7\n" };
  if (command === "ipvsadm --version") {
    return { stdout: "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n" };
  }
  if (command === "ipvsadm -Sn") {
    return { code: 2, stderr: "Can't initialize ipvs: Protocol not available\n" };
  }
  if (argv[0] === "modprobe") {
    return { code: 1, stderr: `modprobe: FATAL: Module ${argv[2]} not found\n` };
  }
  return undefined;
}

/** A node whose kernel has no IPVS, and no other tool. */
function kernelWithoutIpvs() {
  return scriptedRunner(withoutIpvs);
}

/**
 * A node without IPVS that has iptables: its tables are empty, `iptables-restore` accepts
 * what it is given, there is no kube-ipvs0 and no UDP flow, and the node's only address is
 * 192.168.1.10.
 */
function iptablesOnlyNode() {
  const addresses = JSON.stringify([{
    ifname: "eth0",
    addr_info: [{ family: "inet", local: "192.168.1.10", prefixlen: 24, scope: "global" }],
  }]);
  return scriptedRunner((argv) => {
    const command = argv.join(" ");
    if (/^ip6?tables-save -t (nat|filter)$/.test(command)) return { stdout: "" };
    if (/^ip6?tables-restore /.test(command)) return {};
    if (command === "ipset save") return { stdout: "" };
    if (/^conntrack -L -p udp /.test(command)) return { stdout: "" };
    if (command === "ip -j addr show dev kube-ipvs0") {
      return { code: 1, stderr: 'Device "kube-ipvs0" does not exist.\n' };
    }
    if (command === "ip -j addr show") return { stdout: addresses };
    return withoutIpvs(argv);
  });
}

const DRY_RUN = [
  "--config",
  `${EXAMPLES}kubeadm.yaml`,
  "--manifests",
  `${EXAMPLES}cluster`,
  "--dry-run",
  "--once",
];

Deno.test("--output json prints one JSON object with the contract's keys and nothing else", async () => {
  const result = await run([...DRY_RUN, "--output", "json"]);
  assert.equal(result.code, 0, result.stderr.join("\n"));
  const json = JSON.parse(result.stdout);
  assert.deepEqual(Object.keys(json), [
    "virtualServers",
    "ipsets",
    "iptables",
    "ip6tables",
    "addresses",
    "plan",
  ]);
  const kubernetes = json.virtualServers.find((vs: { address: string }) =>
    vs.address === "10.0.0.1"
  );
  assert.deepEqual(kubernetes, {
    protocol: "tcp",
    address: "10.0.0.1",
    port: 443,
    scheduler: "rr",
    persistenceTimeout: 10800,
    flags: [],
    service: "default/kubernetes:https",
    realServers: [{ address: "192.168.0.1", port: 6443, forward: "masq", weight: 1 }],
  });
  assert.match(json.iptables.nat, /^\*nat\n[\s\S]*COMMIT\n$/);
  assert.ok(json.plan.length > 0);
});

Deno.test("logs go to stderr: the proxier line, then one line per sync", async () => {
  const result = await run([...DRY_RUN, "--output", "json"]);
  const proxierLine = result.stderr.indexOf("Using ipvs Proxier.");
  assert.ok(proxierLine >= 0, result.stderr.join("\n"));
  const syncLines = result.stderr.filter((l) => l.startsWith("sync:"));
  assert.equal(syncLines.length, 1);
  assert.ok(result.stderr.indexOf(syncLines[0]) > proxierLine);
  assert.match(syncLines[0], /^sync: [\d.]+ ms, \d+ operations/);
  assert.ok(!result.stdout.includes("Using ipvs Proxier."));
});

Deno.test("the node name defaults to the lowercased host name", async () => {
  const args = DRY_RUN.filter((a) => a !== `${EXAMPLES}kubeadm.yaml` && a !== "--config");
  const result = await run([...args, "--proxy-mode", "ipvs", "--output", "json"]);
  const json = JSON.parse(result.stdout);
  // Endpoints on node-a are local only when the node name resolved to "node-a".
  const loopBack = json.ipsets.find((s: { name: string }) => s.name === "KUBE-LOOP-BACK");
  assert.ok(loopBack.entries.length > 0);
});

Deno.test("--output table prints the virtual servers the way ipvsadm -Ln does", async () => {
  const result = await run([...DRY_RUN, "--output", "table"]);
  assert.equal(result.code, 0);
  const lines = result.stdout.split("\n");
  assert.equal(lines[0], "IP Virtual Server version 1.2.1 (size=4096)");
  assert.ok(lines.some((l) => l.trimEnd() === "TCP  10.0.0.1:443 rr persistent 10800"));
  assert.ok(lines.some((l) => /^ {2}-> 192\.168\.0\.1:6443 +Masq +1 +0 +0/.test(l)));
});

Deno.test("a second run against the saved state shows no changes, an edit only its difference", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cluster = `${dir}/cluster.yaml`;
    await Deno.copyFile(`${EXAMPLES}cluster/default.yaml`, cluster);
    const args = ["--proxy-mode=ipvs", "--manifests", cluster, "--dry-run", "--once"];
    const state = ["--state", `${dir}/kernel.json`];
    assert.equal((await run([...args, ...state])).code, 0);
    const again = await run([...args, ...state, "--output", "json"]);
    assert.deepEqual(JSON.parse(again.stdout).plan, []);
    assert.match((await run([...args, ...state])).stdout, /no changes/);

    const text = await Deno.readTextFile(cluster);
    await Deno.writeTextFile(cluster, text.replace("sessionAffinity: ClientIP", ""));
    const edited = JSON.parse((await run([...args, ...state, "--output", "json"])).stdout);
    assert.deepEqual(edited.plan.map((op: { op: string }) => op.op), ["ipvs.editVirtualServer"]);
    assert.equal(edited.plan[0].virtualServer.persistenceTimeout, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad config exits 2 naming the file, field and value, and prints no plan", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/kube-proxy.yaml`;
    await Deno.writeTextFile(
      config,
      "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n" +
        "mode: ipvs\nipvs:\n  syncPeriod: soon\n",
    );
    const result = await run([
      "--config",
      config,
      "--manifests",
      `${EXAMPLES}cluster`,
      "--dry-run",
    ]);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    const message = result.stderr.join("\n");
    for (const part of [config, "ipvs.syncPeriod", "soon"]) {
      assert.ok(message.includes(part), message);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a mode this proxy does not run exits 2 and names the modes it runs", async () => {
  const result = await run(["--proxy-mode", "nftables", "--manifests", `${EXAMPLES}cluster`]);
  assert.equal(result.code, 2);
  assert.match(result.stderr.join("\n"), /unsupported 'mode' "nftables".*"ipvs" and "iptables"/);
});

Deno.test("--proxy-mode iptables reviews iptables mode's plan: no IPVS, no sets, no kube-ipvs0", async () => {
  const args = ["--proxy-mode", "iptables", "--manifests", `${EXAMPLES}cluster`, "--dry-run"];
  const result = await run([...args, "--once", "--output", "json"]);
  assert.equal(result.code, 0, result.stderr.join("\n"));
  assert.ok(result.stderr.includes("Using iptables Proxier."), result.stderr.join("\n"));
  assert.ok(!result.stderr.some((line) => /ipvs Proxier/.test(line)));
  const json = JSON.parse(result.stdout);
  assert.deepEqual(json.virtualServers, []);
  assert.deepEqual(json.ipsets, []);
  assert.deepEqual(json.addresses, []);
  assert.match(json.iptables.nat, /^-A KUBE-SERVICES .* -j KUBE-SVC-/m);
  assert.ok(!json.plan.some((op: { op: string }) => op.op === "link.add"));
});

Deno.test("KUBE_PROXY_MODE=ipvs is enough when neither flag nor file sets the mode", async () => {
  const result = await run(["--manifests", `${EXAMPLES}cluster`, "--dry-run", "--once"], {
    KUBE_PROXY_MODE: "ipvs",
  });
  assert.equal(result.code, 0, result.stderr.join("\n"));
});

Deno.test("an unknown flag exits 2", async () => {
  const result = await run(["--proxy-mode=ipvs", "--no-such-flag"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr.join("\n"), /no-such-flag/);
});

Deno.test("a manifests path that does not exist exits 2", async () => {
  const result = await run([
    "--proxy-mode=ipvs",
    "--manifests",
    "/nonexistent/cluster",
    "--dry-run",
  ]);
  assert.equal(result.code, 2);
  assert.match(result.stderr.join("\n"), /\/nonexistent\/cluster/);
});

Deno.test("an invalid object is skipped with a warning and the rest still syncs", async () => {
  const result = await run([...DRY_RUN, "--output", "json"]);
  assert.equal(result.code, 0);
  assert.ok(result.stderr.some((l) => l.includes("default/broken") && l.includes("70000")));
  assert.ok(JSON.parse(result.stdout).virtualServers.length > 10);
});

Deno.test("--help prints the usage and exits 0", async () => {
  const result = await run(["--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /--manifests/);
});

Deno.test("--cleanup removes everything of ours from the dry-run kernel and twice is harmless", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const state = ["--state", `${dir}/kernel.json`];
    assert.equal((await run([...DRY_RUN, ...state])).code, 0);
    const first = await run(["--cleanup", "--dry-run", ...state]);
    assert.equal(first.code, 0, first.stderr.join("\n"));
    assert.match(first.stdout, /^-D -t 10\.0\.0\.1:443$/m);
    assert.match(first.stdout, /^destroy KUBE-CLUSTER-IP$/m);
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/kernel.json`));
    assert.deepEqual([saved.virtualServers, saved.ipsets, saved.addresses], [[], [], []]);
    const second = await run(["--cleanup", "--dry-run", ...state]);
    assert.equal(second.code, 0);
    assert.match(second.stdout, /no changes/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("on a kernel without IPVS, mode ipvs falls back to iptables mode with the seed's lines", async () => {
  const tools = iptablesOnlyNode();
  const args = ["--proxy-mode=ipvs", "--manifests", `${EXAMPLES}cluster`, "--once"];
  const result = await run(args, {}, tools);
  assert.equal(result.code, 0, result.stderr.join("\n"));
  const log = result.stderr;
  const fallback = log.indexOf("Can't use ipvs proxier, trying iptables proxier");
  assert.ok(fallback > 0, log.join("\n"));
  assert.equal(log[fallback + 1], "Using iptables Proxier.");
  // Why, ahead of it: the preflight's findings, naming the missing module.
  assert.match(log.slice(0, fallback).join("\n"), /warning: Can't use the IPVS proxier.*\n.*ip_vs/);
  // The sync went through iptables-restore only: no IPVS, no set, no link, no address.
  const writes = tools.calls.filter((argv) => isWriteCommand(argv) && argv[0] !== "modprobe");
  assert.ok(writes.length > 0);
  assert.ok(writes.every((argv) => /^ip6?tables-restore$/.test(argv[0])), writes.join("\n"));
  const nat = tools.stdins.find((stdin) => stdin?.startsWith("*nat"));
  assert.match(nat ?? "", /^-A KUBE-SERVICES .* -j KUBE-SVC-/m);
});

Deno.test("the exec backend runs its tools through CliIo.run, never the host's by default in tests", async () => {
  const tools = kernelWithoutIpvs();
  await run(["--proxy-mode=ipvs", "--manifests", `${EXAMPLES}cluster`, "--once"], {}, tools);
  const commands = tools.calls.map((argv) => argv.join(" "));
  assert.ok(commands.includes("ipset --version"), commands.join("\n"));
  assert.ok(commands.includes("ipvsadm -Sn"), commands.join("\n"));
  assert.ok(commands.some((c) => c.startsWith("modprobe -- ip_vs")), commands.join("\n"));
});

Deno.test("--cleanup leaves the virtual servers inside --ipvs-exclude-cidrs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const state = ["--state", `${dir}/kernel.json`];
    assert.equal((await run([...DRY_RUN, ...state])).code, 0);
    const result = await run([
      "--cleanup",
      "--dry-run",
      "--ipvs-exclude-cidrs",
      "10.0.0.0/28",
      ...state,
    ]);
    assert.equal(result.code, 0, result.stderr.join("\n"));
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/kernel.json`));
    assert.deepEqual(
      saved.virtualServers.map((vs: { address: string }) => vs.address),
      ["10.0.0.1", "10.0.0.10", "10.0.0.10"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--cleanup --dry-run --backend exec exits 2 and runs no tool", async () => {
  const tools = scriptedRunner({});
  const result = await run(["--cleanup", "--dry-run", "--backend", "exec"], {}, tools);
  assert.equal(result.code, 2, result.stderr.join("\n"));
  assert.match(result.stderr.join("\n"), /--dry-run cannot be combined with --backend exec/);
  assert.deepEqual(tools.calls, []);
  assert.equal(result.stdout, "");
});

Deno.test("--state without --dry-run exits 2 before any tool runs", async () => {
  const tools = scriptedRunner({});
  const result = await run(
    [...DRY_RUN.filter((a) => a !== "--dry-run"), "--state", "k.json"],
    {},
    tools,
  );
  assert.equal(result.code, 2);
  assert.match(result.stderr.join("\n"), /--state "k\.json".*add --dry-run/);
  assert.deepEqual(tools.calls, []);
});

Deno.test("--output json without --once exits 2 instead of printing review text", async () => {
  let stdout = "";
  const stderr: string[] = [];
  const args = [...DRY_RUN.filter((a) => a !== "--once"), "--output", "json"];
  // Were the loop to start, it would end at once and bind no port.
  const code = await main([...args, "--healthz-bind-address=", "--metrics-bind-address="], {
    stdout: (text) => stdout += text,
    stderr: (line) => stderr.push(line),
    env: {},
    hostname: () => "node-a",
    signal: AbortSignal.abort(),
    run: scriptedRunner({}),
    defaultBackend: "exec",
  });
  assert.equal(code, 2, stderr.join("\n"));
  assert.match(stderr.join("\n"), /--output json prints the result of one run/);
  assert.equal(stdout, "");
});

Deno.test("--cleanup --output json prints one JSON object: the kernel after cleanup and the plan", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const state = ["--state", `${dir}/kernel.json`];
    assert.equal((await run([...DRY_RUN, ...state])).code, 0);
    const result = await run(["--cleanup", "--dry-run", ...state, "--output", "json"]);
    assert.equal(result.code, 0, result.stderr.join("\n"));
    const json = JSON.parse(result.stdout);
    assert.deepEqual([json.virtualServers, json.ipsets, json.addresses], [[], [], []]);
    assert.ok(json.plan.some((op: { op: string }) => op.op === "ipvs.deleteVirtualServer"));
    const table = await run(["--cleanup", "--dry-run", ...state, "--output", "table"]);
    assert.match(table.stdout, /^IP Virtual Server version/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a malformed --state file exits 2 naming the file, and prints no plan", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/kernel.json`, '{"virtualServers": "nope"}');
    const result = await run([...DRY_RUN, "--state", `${dir}/kernel.json`]);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    assert.match(result.stderr.join("\n"), /kernel\.json/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs the CLI with klog headers (a fixed clock and pid), as mod.ts runs it. */
async function runLogged(args: string[]): Promise<Run> {
  let stdout = "";
  const stderr: string[] = [];
  const code = await main(args, {
    stdout: (text) => stdout += text,
    stderr: (line) => stderr.push(line),
    env: {},
    hostname: () => "Node-A",
    run: scriptedRunner({}),
    defaultBackend: "exec",
    logClock: { now: () => Date.UTC(2026, 11, 1, 21, 3, 50, 123) + 0.456, pid: 12345 },
  });
  return { code, stdout, stderr };
}

const FIXTURES = new URL("../config/testdata/", import.meta.url).pathname;

Deno.test("logs are written in klog's text format, the proxier and sync lines unchanged after the header", async () => {
  const result = await runLogged([...DRY_RUN, "--output", "json"]);
  assert.equal(result.code, 0, result.stderr.join("\n"));
  const header = /^I1201 21:03:50\.123456 {3}12345 [a-z_]+\.ts:\d+\] /;
  const proxier = result.stderr.find((l) => l.endsWith("] Using ipvs Proxier."));
  assert.match(proxier ?? "", header);
  const sync = result.stderr.filter((l) => / sync: [\d.]+ ms, \d+ operations/.test(l));
  assert.equal(sync.length, 1);
  assert.match(sync[0], header);
  assert.ok(result.stderr.every((l) => /^[IWE]1201 /.test(l)), result.stderr.join("\n"));
});

Deno.test("--v=2 adds the sync's detail line and --v=4 each tool's input; the default shows neither", async () => {
  const quiet = await runLogged(DRY_RUN);
  assert.ok(!quiet.stderr.some((l) => l.includes('"Synced"')));
  const v2 = await runLogged([...DRY_RUN, "--v=2"]);
  assert.ok(v2.stderr.some((l) => /\] "Synced" virtualServers=\d+ ipsets=\d+/.test(l)));
  assert.ok(!v2.stderr.some((l) => l.includes('"Tool input"')));
  const v4 = await runLogged([...DRY_RUN, "-v", "4"]);
  assert.ok(v4.stderr.some((l) => l.includes('"Tool input" command="ipset restore"')));
  assert.ok(v4.stderr.some((l) => l.endsWith('] FLAG: --v="4"')), v4.stderr.join("\n"));
  assert.ok(v4.stderr.some((l) => l.includes('] FLAG: --config="/')));
});

Deno.test("--logging-format=json writes one JSON object per log line", async () => {
  const result = await runLogged([...DRY_RUN, "--logging-format=json"]);
  assert.equal(result.code, 0);
  const lines = result.stderr.map((l) => JSON.parse(l));
  const proxier = lines.find((l) => l.msg === "Using ipvs Proxier.");
  assert.deepEqual(Object.keys(proxier), ["ts", "caller", "msg", "v"]);
  assert.equal(proxier.ts, 1796159030123.456);
  assert.match(proxier.caller, /^cli\/main\.ts:\d+$/);
});

Deno.test("hack/local-up-cluster.sh's command line runs: --v, --master, and the port flags ignored with --config", async () => {
  const result = await run([
    "--v=3",
    `--config=${FIXTURES}local-up-cluster-kube-proxy.yaml`,
    "--master=https://localhost:6443",
    "--healthz-port=10256",
    "--metrics-port=10249",
    "--manifests",
    `${EXAMPLES}cluster`,
    "--dry-run",
    "--once",
  ]);
  assert.equal(result.code, 0, result.stderr.join("\n"));
  const ignored = result.stderr.filter((l) => l.startsWith("warning: command line: --"));
  assert.deepEqual(ignored.map((l) => l.split(" ")[3]), ["--healthz-port", "--metrics-port"]);
});

Deno.test("kubeadm's printed defaults with mode: ipvs run without a warning", async () => {
  const args = [`--config=${FIXTURES}kubeadm-init-defaults-ipvs.yaml`, ...DRY_RUN.slice(2)];
  const result = await run(args);
  assert.equal(result.code, 0, result.stderr.join("\n"));
  // The only warning is examples/cluster's deliberately invalid Service.
  const warnings = result.stderr.filter((l) => l.startsWith("warning:"));
  // The example manifests' own warnings (the broken port, the Endpoints) are not the config's.
  assert.deepEqual(warnings.filter((l) => !l.includes("/examples/cluster/")), []);
});

Deno.test("--version prints the version and exits 0", async () => {
  const result = await run(["--version"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^ipvs-proxy v\d+\.\d+\.\d+\n$/);
  const raw = JSON.parse((await run(["--version=raw"])).stdout);
  assert.equal(raw.program, "ipvs-proxy");
});

Deno.test("--write-config-to writes a KubeProxyConfiguration that reads back the same, and exits 0", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/written.yaml`;
    const first = await run([`--config=${EXAMPLES}kubeadm.yaml`, `--write-config-to=${file}`]);
    assert.equal(first.code, 0, first.stderr.join("\n"));
    assert.equal(first.stdout, "");
    const text = await Deno.readTextFile(file);
    assert.match(text, /^apiVersion: kubeproxy\.config\.k8s\.io\/v1alpha1$/m);
    assert.match(text, /^mode: ipvs$/m);
    const again = `${dir}/again.yaml`;
    const second = await run([`--config=${file}`, `--write-config-to=${again}`]);
    assert.equal(second.code, 0, second.stderr.join("\n"));
    assert.equal(await Deno.readTextFile(again), text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--init-only prepares the node through the backend, then exits without a sync", async () => {
  const dryRun = await run([`--config=${EXAMPLES}kubeadm.yaml`, "--dry-run", "--init-only"]);
  assert.equal(dryRun.code, 0, dryRun.stderr.join("\n"));
  assert.ok(!dryRun.stderr.some((l) => l.startsWith("sync:")));
  assert.equal(dryRun.stdout, "");
  // With the exec backend the preflight runs (and here finds no IPVS, so iptables mode is prepared).
  const exec = await run(
    [`--config=${EXAMPLES}kubeadm.yaml`, "--init-only"],
    {},
    kernelWithoutIpvs(),
  );
  assert.equal(exec.code, 0, exec.stderr.join("\n"));
  assert.ok(exec.stderr.includes("Using iptables Proxier."), exec.stderr.join("\n"));
  assert.ok(exec.stderr.some((l) => l.includes("Node prepared for iptables mode")));
});
