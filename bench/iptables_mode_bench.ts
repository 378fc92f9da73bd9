/**
 * iptables mode against a real kernel, in a fresh private network namespace: 10,000 services
 * x 10 endpoints (`LARGE_CLUSTER`: 20% NodePort, 5% LoadBalancer), this node `node-0`, with
 * the exec backend (no IPVS). Measures the cold `iptables-restore` of both tables, a no-op
 * resync (read + diff + apply; asserts 0 write commands), and one changed endpoint (asserts
 * that only that service's chains are rewritten), each resync the median of 5; and counts the
 * rules against kube-proxy's iptables mode at the same scale (the formula below, from
 * `syncProxyRules`, which the golden tests hold this proxier to).
 *
 * Run as root: `deno run -A bench/iptables_mode_bench.ts [--iptables legacy|nft] [--services N]`.
 * It re-executes itself under `unshare -n` and refuses to run in a namespace that is not
 * fresh; the host's network is never written. `--iptables` picks the iptables backend the
 * exec backend's `iptables-restore`/`iptables-save` resolve to (through symbolic links in a
 * temporary directory put first on the child's PATH; default `legacy`: iptables-nft 1.8.9
 * restores this many chains about 30 times slower, see the README). Not a `Deno.bench` file:
 * under `deno bench` it does nothing.
 *
 * @module
 */

import { notPrivateNamespace } from "../tests/exec/private_namespace.ts";
import { parseArgs } from "node:util";
import { countingRunner, runCommand } from "../backends/exec/command.ts";
import { ExecBackend } from "../backends/exec/exec_backend.ts";
import { diffStates } from "../src/plan/diff.ts";
import type { Operation } from "../src/plan/types.ts";
import { computeIptablesDesiredState } from "../src/iptables_proxier/desired_state.ts";
import { testConfig } from "../src/proxier/testing.ts";
import type { KernelState } from "../src/state/types.ts";
import { generateCluster, LARGE_CLUSTER, withOneEndpointChanged } from "./generate_cluster.ts";

const INSIDE_MARKER = "IPVS_PROXY_IPTABLES_BENCH_IN_NETNS";
const NODE_IP = "192.168.0.10";
const CONFIG = testConfig({ clusterCIDRs: ["10.128.0.0/9"] });

function fail(message: string): never {
  console.error(`iptables_mode_bench: ${message}`);
  Deno.exit(1);
}

async function must(argv: string[], stdin?: string): Promise<string> {
  const result = await runCommand(argv, stdin === undefined ? {} : { stdin });
  if (result.code !== 0) fail(`${argv.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/**
 * kube-proxy's rule count for this shape (all ports TCP, Cluster policies, a cluster CIDR):
 * per service 1 KUBE-SERVICES rule, 1 masquerade + E spread rules in KUBE-SVC, 2 per KUBE-SEP;
 * per NodePort 1 KUBE-NODEPORTS rule and 2 in KUBE-EXT; per LoadBalancer 1 more KUBE-SERVICES
 * rule; 5 fixed nat rules (POSTROUTING 3, MARK-MASQ 1, the NodePort tail-call) and 3 filter.
 */
function kubeProxyRuleCount(services: number): number {
  const s = services;
  const e = LARGE_CLUSTER.endpointsPerService;
  const np = Math.round(s * LARGE_CLUSTER.nodePortShare);
  const lb = Math.round(s * LARGE_CLUSTER.loadBalancerShare);
  return s * (2 + 3 * e) + np * 3 + lb + 5 + 3;
}

function ruleCount(state: KernelState): { rules: number; chains: number } {
  const tables = [state.iptables.ipv4.nat, state.iptables.ipv4.filter];
  return {
    rules: tables.reduce((n, t) => n + t.chains.reduce((m, c) => m + c.rules.length, 0), 0),
    chains: tables.reduce((n, t) => n + t.chains.length, 0),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

type Restore = Extract<Operation, { op: "iptables.restore" }>;

async function inside(): Promise<void> {
  const why = await notPrivateNamespace();
  if (why !== undefined) fail(`refusing to run: ${why}`);
  if (/KUBE-|:\S+ - /.test(await must(["iptables-save"]))) fail("refusing to run: not fresh");
  await must(["ip", "link", "set", "lo", "up"]);
  await must(
    ["ip", "-batch", "-"],
    [
      "link add node0 type veth peer name node0-peer",
      `address add ${NODE_IP}/24 dev node0`,
      "link set node0 up",
    ].join("\n") + "\n",
  );

  const services = Number(Deno.env.get("BENCH_SERVICES") ?? LARGE_CLUSTER.services);
  const cluster = generateCluster({ ...LARGE_CLUSTER, services });
  const changedCluster = withOneEndpointChanged(cluster);
  const input = { config: CONFIG, nodeName: "node-0", nodeIPs: [NODE_IP] };
  let t = performance.now();
  const desired = computeIptablesDesiredState({ ...input, snapshot: cluster }).state;
  const computeMs = performance.now() - t;
  const changed = computeIptablesDesiredState({ ...input, snapshot: changedCluster }).state;

  const run = countingRunner(runCommand);
  const backend = new ExecBackend({ run, ipvs: false, families: ["ipv4"] });
  const sync = async (want: KernelState) => {
    const [calls, writes] = [run.calls.length, run.writes()];
    const start = performance.now();
    const current = await backend.read();
    const readMs = performance.now() - start;
    const plan = diffStates(current, want, { excludeCIDRs: [] });
    const applyStart = performance.now();
    const result = await backend.apply(plan);
    if (result.failures.length > 0) {
      const { tool, line, message } = result.failures[0];
      fail(`${tool} refused ${JSON.stringify(line.slice(0, 200))}: ${message.slice(0, 500)}`);
    }
    const end = performance.now();
    return {
      plan,
      ms: end - start,
      readMs,
      applyMs: end - applyStart,
      processes: run.calls.length - calls,
      writes: run.writes() - writes,
    };
  };

  const cold = await sync(desired);
  const noops = [];
  for (let i = 0; i < 5; i++) {
    const noop = await sync(desired);
    if (noop.plan.length !== 0 || noop.writes !== 0) fail("a no-op resync wrote something");
    noops.push(noop);
  }
  const changes = [];
  for (let i = 0; i < 5; i++) {
    const change = await sync(changed);
    changes.push(change);
    await sync(desired); // back, so every measured sync makes the same change
  }
  const restore = changes[0].plan[0] as Restore;
  if (changes[0].plan.length !== 1 || restore.table !== "nat") fail("expected one nat restore");
  t = performance.now();
  const counts = ruleCount(desired);
  console.log(JSON.stringify(
    {
      computeMs,
      rules: counts.rules,
      chains: counts.chains,
      services,
      iptables: (await must(["iptables-restore", "--version"])).trim(),
      kubeProxyRules: kubeProxyRuleCount(services),
      cold: {
        ms: cold.ms,
        readMs: cold.readMs,
        applyMs: cold.applyMs,
        processes: cold.processes,
        writes: cold.writes,
      },
      noop: {
        ms: median(noops.map((n) => n.ms)),
        readMs: median(noops.map((n) => n.readMs)),
        processes: noops[0].processes,
        writes: 0,
      },
      oneChange: {
        ms: median(changes.map((c) => c.ms)),
        readMs: median(changes.map((c) => c.readMs)),
        processes: changes[0].processes,
        writes: changes[0].writes,
        rewritten: restore.chains.map((c) => `${c.name} (${c.rules.length} rules)`),
        deleted: restore.deleteChains,
      },
    },
    null,
    1,
  ));
}

async function outside(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      iptables: { type: "string", default: "legacy" },
      services: { type: "string", default: String(LARGE_CLUSTER.services) },
    },
  });
  if (values.iptables !== "legacy" && values.iptables !== "nft") fail("--iptables legacy|nft");
  if (Deno.uid() !== 0) fail("needs root: it runs `unshare -n`, iptables-restore and ip");
  const bin = await Deno.makeTempDir({ prefix: "iptables-mode-bench-" });
  try {
    for (const tool of ["iptables", "iptables-restore", "iptables-save"]) {
      const target = tool.replace("iptables", `iptables-${values.iptables}`);
      await Deno.symlink(`/usr/sbin/${target}`, `${bin}/${tool}`);
    }
    const config = new URL("../deno.json", import.meta.url).pathname;
    const self = new URL(import.meta.url).pathname;
    const child = await new Deno.Command("unshare", {
      args: ["-n", Deno.execPath(), "run", "-A", "--config", config, self],
      env: {
        [INSIDE_MARKER]: "1",
        BENCH_SERVICES: values.services,
        PATH: `${bin}:${Deno.env.get("PATH") ?? ""}`,
      },
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!child.success) fail(`the run failed (exit code ${child.code})`);
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.env.get(INSIDE_MARKER) === "1") await inside();
  else await outside(Deno.args);
}
