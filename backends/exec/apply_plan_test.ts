import assert from "node:assert/strict";
import { ExecBackend } from "./exec_backend.ts";
import { NOT_APPLIED_EARLIER } from "./apply_plan.ts";
import { type ScriptedAnswer, scriptedRunner } from "./command.ts";
import type { Operation } from "../../src/plan/types.ts";

const SET = "KUBE-CLUSTER-IP";
const add = (entry: string): Operation => ({ op: "ipset.add", set: SET, entry });
const vip = { protocol: "tcp", address: "10.96.0.1", port: 443 } as const;
const natRestore: Operation = {
  op: "iptables.restore",
  family: "ipv4",
  table: "nat",
  chains: [{ name: "KUBE-MARK-MASQ", rules: ["-j MARK --set-xmark 0x4000/0x4000"] }],
  addJumps: [],
  deleteJumps: [],
  deleteChains: [],
};
const addressAdd = (address: string): Operation => ({
  op: "address.add",
  device: "kube-ipvs0",
  address,
});

/** A backend whose tools answer from `script` (by argv joined with spaces). */
function backendWith(
  script: Record<string, ScriptedAnswer>,
  options: { linkType?: "veth" | "dummy" } = {},
) {
  const run = scriptedRunner(script);
  return { run, backend: new ExecBackend({ run, ...options }) };
}

Deno.test({
  name: "an empty plan starts no process",
  permissions: "none",
  async fn() {
    const { run, backend } = backendWith({});
    assert.deepEqual(await backend.apply([]), { applied: 0, failures: [], writes: 0 });
    assert.deepEqual(run.calls, []);
  },
});

Deno.test({
  name: "each run of one tool is one process with the rendered lines on stdin",
  permissions: "none",
  async fn() {
    const { run, backend } = backendWith({
      "ip -batch -": {},
      "ipset restore": {},
      "iptables-restore --noflush -w": {},
    }, { linkType: "veth" });
    const plan: Operation[] = [
      { op: "link.add", device: "kube-ipvs0" },
      add("10.96.0.1,tcp:443"),
      add("10.96.0.10,udp:53"),
      natRestore,
      addressAdd("10.96.0.1/32"),
      addressAdd("10.96.0.10/32"),
    ];
    assert.deepEqual(await backend.apply(plan), { applied: 6, failures: [], writes: 4 });
    assert.deepEqual(run.calls, [
      ["ip", "-batch", "-"],
      ["ipset", "restore"],
      ["iptables-restore", "--noflush", "-w"],
      ["ip", "-batch", "-"],
    ]);
    assert.deepEqual(run.stdins, [
      "link add kube-ipvs0 type veth peer name kube-ipvs0-peer\n",
      `add ${SET} 10.96.0.1,tcp:443 -exist\nadd ${SET} 10.96.0.10,udp:53 -exist\n`,
      "*nat\n:KUBE-MARK-MASQ - [0:0]\n-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\nCOMMIT\n",
      "address add 10.96.0.1/32 dev kube-ipvs0\naddress add 10.96.0.10/32 dev kube-ipvs0\n",
    ]);
  },
});

Deno.test({
  name:
    "a tool that fails naming no line fails every operation of its run with its words and exit code",
  permissions: "none",
  async fn() {
    const { backend } = backendWith({
      "ipset restore": { code: 141, stderr: "stdin pipe broken\n" },
      "ip -batch -": { code: 1 },
      "iptables-restore --noflush -w": {
        code: 4,
        stderr: "iptables-restore: unable to initialize table 'nat'\n",
      },
    }, { linkType: "dummy" });
    const plan = [add("10.0.0.1,tcp:80"), add("10.0.0.2,tcp:80")];
    assert.deepEqual((await backend.apply(plan)).failures.map((f) => [f.operation, f.message]), [
      [plan[0], "stdin pipe broken (exit code 141)"],
      [plan[1], "stdin pipe broken (exit code 141)"],
    ]);
    // No words at all: the exit code is the message, once.
    const address = addressAdd("10.96.0.1/32");
    assert.deepEqual((await backend.apply([address])).failures.map((f) => f.message), [
      "exit code 1",
    ]);
    assert.deepEqual((await backend.apply([natRestore])).failures.map((f) => f.message), [
      "iptables-restore: unable to initialize table 'nat' (exit code 4)",
    ]);
  },
});

Deno.test({
  name: "ipset's 'Error in line 3' fails the third line's operation and stops everything after it",
  permissions: "none",
  async fn() {
    const stderr =
      "ipset v7.17: Error in line 3: Element cannot be added to the set: it's already added\n";
    const { run, backend } = backendWith({
      "ipset restore": { code: 1, stderr },
      // The read-back after the failure: lines 1 and 2 took effect.
      "ipset save": {
        stdout: `create ${SET} hash:ip,port family inet hashsize 1024 maxelem 65536\n` +
          `add ${SET} 10.0.0.1,tcp:80\nadd ${SET} 10.0.0.2,tcp:80\n`,
      },
    });
    const plan = [
      add("10.0.0.1,tcp:80"),
      add("10.0.0.2,tcp:80"),
      add("10.0.0.3,tcp:80"),
      add("10.0.0.4,tcp:80"),
      natRestore,
    ];
    const result = await backend.apply(plan);
    assert.deepEqual(result.failures, [
      {
        operation: plan[2],
        tool: "ipset restore",
        line: `add ${SET} 10.0.0.3,tcp:80 -exist`,
        message: stderr.trim(),
      },
      {
        operation: plan[3],
        tool: "ipset restore",
        line: "",
        message: "not applied: ipset restore stopped at line 3",
      },
      {
        operation: plan[4],
        tool: "iptables-restore (nat)",
        line: "",
        message: NOT_APPLIED_EARLIER,
      },
    ]);
    assert.equal(result.applied, 2);
    assert.equal(result.writes, 1);
    assert.deepEqual(run.calls, [["ipset", "restore"], ["ipset", "save"]]);
  },
});

Deno.test({
  name: "adds ipset dropped before the rejected line are found by reading the sets back",
  permissions: "none",
  async fn() {
    const stderr = "ipset v7.17: Error in line 2: Syntax error: cannot parse fd00::1: " +
      "resolving to IPv4 address failed\n";
    const { backend } = backendWith({
      "ipset restore": { code: 1, stderr },
      "ipset save": { stdout: `create ${SET} hash:ip,port family inet hashsize 1024\n` },
    });
    const plan = [add("10.0.0.1,tcp:80"), add("fd00::1,tcp:80")];
    const result = await backend.apply(plan);
    assert.equal(result.applied, 0);
    assert.deepEqual(result.failures.map((f) => [f.operation, f.line, f.message]), [
      [plan[0], "", `not applied: ipset restore dropped it when line 2 failed: ${stderr.trim()}`],
      [plan[1], `add ${SET} fd00::1,tcp:80 -exist`, stderr.trim()],
    ]);
  },
});

Deno.test({
  name: "a failed iptables-restore fails its whole table, names the line, and stops later runs",
  permissions: "none",
  async fn() {
    const stderr = "iptables-restore v1.8.9 (nf_tables): Set KUBE-NOPE doesn't exist.\n\n" +
      "Error occurred at line: 3\n" +
      "Try `iptables-restore -h' or 'iptables-restore --help' for more information.\n";
    const { run, backend } = backendWith({ "iptables-restore --noflush -w": { code: 2, stderr } });
    const plan = [natRestore, addressAdd("10.96.0.1/32")];
    const result = await backend.apply(plan);
    assert.deepEqual(result.failures, [
      {
        operation: natRestore,
        tool: "iptables-restore (nat)",
        line: "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
        message: stderr.trim(),
      },
      { operation: plan[1], tool: "ip -batch", line: "", message: NOT_APPLIED_EARLIER },
    ]);
    assert.equal(result.writes, 1);
    assert.equal(run.calls.length, 1);
  },
});

Deno.test({
  name:
    "ip -batch's 'Command failed -:2' fails line 2; earlier lines took effect, later runs go on",
  permissions: "none",
  async fn() {
    const stderr = "Error: ipv4: Address already assigned.\nCommand failed -:2\n";
    const { run, backend } = backendWith({
      "ip -batch -": { code: 1, stderr },
      "ipset restore": {},
    });
    const plan = [
      addressAdd("10.96.0.1/32"),
      addressAdd("10.96.0.10/32"),
      addressAdd("10.96.0.20/32"),
      { op: "ipset.destroy", set: "KUBE-OLD" } as const,
    ];
    const result = await backend.apply(plan);
    assert.deepEqual(result.failures, [
      {
        operation: plan[1],
        tool: "ip -batch",
        line: "address add 10.96.0.10/32 dev kube-ipvs0",
        message: stderr.trim(),
      },
      {
        operation: plan[2],
        tool: "ip -batch",
        line: "",
        message: "not applied: ip -batch stopped at line 2",
      },
    ]);
    assert.equal(result.applied, 2);
    assert.equal(result.writes, 2);
    assert.deepEqual(run.calls.at(-1), ["ipset", "restore"]);
  },
});

Deno.test({
  name: "ipvsadm errors, which name no line, are checked against ipvsadm -Sn",
  permissions: "none",
  async fn() {
    // ipvsadm --restore goes on after a refused line and exits with the last line's status.
    const { run, backend } = backendWith({
      "ipvsadm --restore": { code: 0, stderr: "Scheduler not found\n" },
      "ipvsadm -Sn": { stdout: "-A -t 10.96.0.1:443 -s rr\n" },
    });
    const plan: Operation[] = [
      {
        op: "ipvs.addVirtualServer",
        virtualServer: { ...vip, scheduler: "nope", persistenceTimeout: 0, flags: [], service: "" },
      },
      {
        op: "ipvs.addVirtualServer",
        virtualServer: {
          ...vip,
          port: 80,
          scheduler: "rr",
          persistenceTimeout: 0,
          flags: [],
          service: "",
        },
      },
    ];
    const result = await backend.apply(plan);
    assert.deepEqual(result.failures.map((f) => [f.operation, f.tool, f.message]), [
      [plan[0], "ipvsadm --restore", "Scheduler not found"],
      [plan[1], "ipvsadm --restore", "Scheduler not found"],
    ]);
    assert.equal(result.writes, 1, "the read-back is no write");
    assert.deepEqual(run.calls, [["ipvsadm", "--restore"], ["ipvsadm", "-Sn"]]);
  },
});

Deno.test({
  name: "a one-line ipvsadm run that fails is that line's failure even if its effect shows",
  permissions: "none",
  async fn() {
    const { backend } = backendWith({
      "ipvsadm --restore": { code: 255, stderr: "No such service\n" },
      "ipvsadm -Sn": { stdout: "" },
    });
    const op: Operation = { op: "ipvs.deleteVirtualServer", virtualServer: vip };
    const result = await backend.apply([op]);
    assert.deepEqual(result.failures, [{
      operation: op,
      tool: "ipvsadm --restore",
      line: "-D -t 10.96.0.1:443",
      message: "No such service",
    }]);
    assert.equal(result.applied, 0);
  },
});

Deno.test({
  name: "an operation that cannot be rendered safely is reported and the rest is applied",
  permissions: "none",
  async fn() {
    const { run, backend } = backendWith({ "ipset restore": {} });
    const bad = add("10.0.0.1,tcp:80\nflush KUBE-CLUSTER-IP");
    const result = await backend.apply([add("10.0.0.2,tcp:80"), bad]);
    assert.equal(result.applied, 1);
    assert.equal(result.failures.length, 1);
    assert.equal(result.failures[0].operation, bad);
    assert.equal(result.failures[0].tool, "ipset restore");
    assert.match(result.failures[0].message, /Cannot render/);
    assert.deepEqual(run.stdins, [`add ${SET} 10.0.0.2,tcp:80 -exist\n`]);
  },
});
