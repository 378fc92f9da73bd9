/**
 * Crash safety on the real kernel: the proxy (the CLI as a child process, exec backend) is
 * killed with SIGKILL at a random moment of a cold apply of a large cluster, restarted, and
 * the restart must converge in one sync (a following sync has an empty plan) with the foreign
 * state byte-identical. Each trial starts from a kernel with nothing of ours.
 *
 * The kill goes to the proxy's whole process group, as a service manager or the kubelet kills
 * a unit or a container (a tool it started dies with it). `CRASH_TRIALS` (default 2, for CI),
 * `CRASH_SERVICES` (default 300) and `CRASH_SEED` (default: the clock) set the run; the README's
 * figure is a run by hand with `CRASH_TRIALS=20 CRASH_SERVICES=2000`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { kernelTest, run, sh } from "./harness.ts";
import { cli, createNode, endpointSlice, savedIpvs, service, syncFlags } from "./cluster.ts";

const TRIALS = Number(Deno.env.get("CRASH_TRIALS") ?? 2);
const SERVICES = Number(Deno.env.get("CRASH_SERVICES") ?? 300);
const SEED = Number(Deno.env.get("CRASH_SEED") ?? Date.now() % 1_000_000);
const EXCLUDE = "--ipvs-exclude-cidrs=198.51.100.0/24";
const MOD = decodeURIComponent(new URL("../../mod.ts", import.meta.url).pathname);
const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname);

/** `n` services of two TCP endpoints each; every fifth one a NodePort. */
function largeCluster(n: number): object[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `svc-${i}`;
    const ip = (base: number) => `10.${base}.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    return [
      service({
        name,
        type: i % 5 === 0 ? "NodePort" : "ClusterIP",
        clusterIP: ip(96),
        ports: [{
          port: 80,
          targetPort: 8080,
          ...(i % 5 === 0 ? { nodePort: 30000 + i / 5 } : {}),
        }],
      }),
      endpointSlice({
        service: name,
        endpoints: [{ ip: ip(244) }, { ip: ip(245), node: "node-b" }],
        ports: [{ port: 8080 }],
      }),
    ];
  }).flat();
}

/** A small deterministic generator (mulberry32), so a run can be repeated from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FOREIGN_VS = "198.51.100.78:8080";

async function createForeignState(): Promise<void> {
  await sh(["ipvsadm", "-A", "-t", FOREIGN_VS, "-s", "wrr"]);
  await sh(["ipvsadm", "-a", "-t", FOREIGN_VS, "-r", "10.9.9.8:8080", "-m", "-w", "3"]);
  await sh(
    ["ipset", "restore"],
    "create CRASH-FOREIGN hash:ip family inet\nadd CRASH-FOREIGN 10.1.2.4\n",
  );
  await sh(
    ["iptables-restore", "--noflush"],
    [
      "*filter",
      ":CRASH-CHAIN - [0:0]",
      "-A CRASH-CHAIN -s 10.9.9.8/32 -j DROP",
      "-A INPUT -m set --match-set CRASH-FOREIGN src -j CRASH-CHAIN",
      "COMMIT",
      "",
    ].join("\n"),
  );
  await sh(["ip", "link", "add", "crash0", "type", "dummy"]);
  await sh(["ip", "addr", "add", "10.5.5.6/24", "dev", "crash0"]);
}

async function removeForeignState(): Promise<void> {
  await run(["ipvsadm", "-D", "-t", FOREIGN_VS]);
  await run([
    "iptables",
    "-D",
    "INPUT",
    "-m",
    "set",
    "--match-set",
    "CRASH-FOREIGN",
    "src",
    "-j",
    "CRASH-CHAIN",
  ]);
  await run(["iptables", "-F", "CRASH-CHAIN"]);
  await run(["iptables", "-X", "CRASH-CHAIN"]);
  await run(["ipset", "destroy", "CRASH-FOREIGN"]);
  await run(["ip", "link", "delete", "crash0"]);
}

/**
 * The foreign objects as the tools print them: for iptables, the user chains and rules that
 * are not ours (a table our sync loads for the first time adds only built-in chains).
 */
async function foreignSnapshot() {
  const lines = async (argv: string[]) =>
    (await sh(argv)).split("\n").filter((l) =>
      /^(-A |:(?!(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ))/.test(l) && !l.includes("KUBE-")
    );
  return {
    ipset: await sh(["ipset", "save", "CRASH-FOREIGN"]),
    iptables: await lines(["iptables-save"]),
    ipvs: (await savedIpvs()).filter((l) => l.includes(FOREIGN_VS)),
    address: await sh(["ip", "addr", "show", "dev", "crash0"]),
  };
}

/** Starts the proxy as its own process group (`setsid`), so SIGKILL reaches its tools too. */
function startProxy(dir: string): Deno.ChildProcess {
  return new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "-A", "--no-check", MOD, ...syncFlags(dir), EXCLUDE],
    cwd: REPO,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function timedRun(dir: string): Promise<{ ms: number; code: number; stderr: string }> {
  const started = performance.now();
  const output = await startProxy(dir).output();
  const stderr = new TextDecoder().decode(output.stderr);
  return { ms: performance.now() - started, code: output.code, stderr };
}

/** Starts a cold sync and kills it after `delayMs`; true if it was still running then. */
async function killedRun(dir: string, delayMs: number): Promise<boolean> {
  const child = startProxy(dir);
  const stderr = child.stderr.pipeTo(new WritableStream()); // drained, not needed
  let killed = false;
  const timer = setTimeout(() => {
    try {
      Deno.kill(-child.pid, "SIGKILL");
      killed = true;
    } catch { /* it had exited */ }
  }, delayMs);
  await child.status;
  clearTimeout(timer);
  await stderr.catch(() => {});
  return killed;
}

/** How many virtual servers of ours (all but the foreign one) the kernel holds. */
async function ourVirtualServers(): Promise<number> {
  return (await savedIpvs()).filter((l) => l.startsWith("-A ") && !l.includes(FOREIGN_VS)).length;
}

async function cleanUp(): Promise<void> {
  const result = await cli(["--cleanup", EXCLUDE]);
  assert.equal(result.code, 0, `--cleanup failed:\n${result.stderr}`);
}

interface Trial {
  readonly delayS: number;
  readonly killed: boolean;
  readonly virtualServersAtKill: number;
  readonly restartS: number;
  readonly converged: boolean;
}

kernelTest(
  "a proxy killed with SIGKILL during a cold apply converges on restart in one sync, foreign state intact",
  async () => {
    await using node = await createNode();
    await using _foreign = { [Symbol.asyncDispose]: removeForeignState };
    await createForeignState();
    const before = await foreignSnapshot();
    await node.write(largeCluster(SERVICES));
    // An unkilled cold run gives the time span the kills are drawn from.
    const cold = await timedRun(node.dir);
    assert.equal(cold.code, 0, cold.stderr);
    const total = await ourVirtualServers();
    console.log(
      `crash safety: cold run ${(cold.ms / 1000).toFixed(1)} s, ${total} virtual servers`,
    );
    await cleanUp();
    const next = random(SEED);
    const trials: Trial[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const delayMs = cold.ms * (0.3 + 0.7 * next());
      const killed = await killedRun(node.dir, delayMs);
      const atKill = await ourVirtualServers();
      const restart = await timedRun(node.dir);
      assert.equal(restart.code, 0, `trial ${i}: the restart failed:\n${restart.stderr}`);
      const check = await cli([...syncFlags(node.dir), EXCLUDE, "--output", "json"]);
      assert.equal(check.code, 0, check.stderr);
      const plan = JSON.parse(check.stdout).plan as unknown[];
      trials.push({
        delayS: delayMs / 1000,
        killed,
        virtualServersAtKill: atKill,
        restartS: restart.ms / 1000,
        converged: plan.length === 0,
      });
      console.log(`  trial ${i}: ${JSON.stringify(trials.at(-1))}`);
      assert.deepEqual(plan, [], `trial ${i}: the sync after the restart had work left`);
      assert.deepEqual(await foreignSnapshot(), before, `trial ${i}: foreign state changed`);
      await cleanUp();
    }
    report(cold.ms, total, trials);
  },
);

function report(coldMs: number, total: number, trials: readonly Trial[]): void {
  const restarts = trials.map((t) => t.restartS).sort((a, b) => a - b);
  const mid =
    trials.filter((t) => t.killed && t.virtualServersAtKill > 0 && t.virtualServersAtKill < total)
      .length;
  console.log(
    `crash safety: seed ${SEED}, ${SERVICES} services (${total} virtual servers), ` +
      `cold apply ${(coldMs / 1000).toFixed(1)} s; ${trials.length} trials, ` +
      `${trials.filter((t) => t.killed).length} killed (${mid} with IPVS half-written), ` +
      `${trials.filter((t) => t.converged).length} converged in one sync; restart ` +
      `${restarts[0]?.toFixed(1)}-${restarts.at(-1)?.toFixed(1)} s ` +
      `(median ${restarts[Math.floor(restarts.length / 2)]?.toFixed(1)} s)`,
  );
  for (const [i, t] of trials.entries()) {
    console.log(
      `  trial ${i}: kill at ${t.delayS.toFixed(1)} s${t.killed ? "" : " (had exited)"}, ` +
        `${t.virtualServersAtKill} virtual servers written, restart ${t.restartS.toFixed(1)} s`,
    );
  }
}
