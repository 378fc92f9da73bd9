/**
 * What the exec backend must leave alone, and how it reports what the kernel refuses, on the
 * real tools in this private network namespace.
 */
import assert from "node:assert/strict";
import { runCommand } from "../../../backends/exec/command.ts";
import { NOT_APPLIED_EARLIER } from "../../../backends/exec/apply_plan.ts";
import { cleanupPlan, diffStates } from "../../../src/plan/diff.ts";
import type { Operation } from "../../../src/plan/types.ts";
import { IPVS_DEVICE } from "../../../src/state/types.ts";
import { parseIpsetSave } from "../../../src/render/ipset.ts";
import { cleanUp, namespaceBackend, prepareNamespace, saved, tool } from "./namespace_helpers.ts";
import { createNodeDevice, deleteNodeDevice, desiredState } from "./cluster_fixture.ts";

const FOREIGN_SOURCE = { ipv4: "10.9.9.9/32", ipv6: "fd09::9/128" };
const FOREIGN_INPUT_RULE = (source: string) =>
  `-s ${source} -m comment --comment "foreign input rule" -j FOREIGN-CHAIN`;

const FOREIGN_RULES = (family: "ipv4" | "ipv6") => {
  const source = FOREIGN_SOURCE[family];
  return [
    "*nat",
    ":FOREIGN-CHAIN - [0:0]",
    "-A FOREIGN-CHAIN -p tcp -m tcp --dport 8080 -j RETURN",
    "-A PREROUTING -j FOREIGN-CHAIN",
    "COMMIT",
    "*filter",
    ":FOREIGN-CHAIN - [0:0]",
    `-A FOREIGN-CHAIN -s ${source} -j DROP`,
    `-A INPUT ${FOREIGN_INPUT_RULE(source)}`,
    "-A FORWARD -j FOREIGN-CHAIN",
    "COMMIT",
  ].join("\n") + "\n";
};

async function createForeignState(): Promise<void> {
  await tool(
    ["ipset", "restore"],
    "create FOREIGN-SET hash:ip family inet\nadd FOREIGN-SET 10.1.2.3\n",
  );
  await tool(["iptables-restore", "--noflush", "-w"], FOREIGN_RULES("ipv4"));
  await tool(["ip6tables-restore", "--noflush", "-w"], FOREIGN_RULES("ipv6"));
  await tool(
    ["ip", "-batch", "-"],
    [
      "link add foreign0 type veth peer name foreign0-peer",
      "address add 10.5.5.5/24 dev foreign0",
      "address add fd05::5/64 dev foreign0 nodad",
    ].join("\n") + "\n",
  );
}

async function removeForeignState(): Promise<void> {
  await runCommand(["ip", "link", "delete", "foreign0"]);
  for (const family of ["ipv4", "ipv6"] as const) {
    const input = [
      "*nat",
      "-D PREROUTING -j FOREIGN-CHAIN",
      "-F FOREIGN-CHAIN",
      "-X FOREIGN-CHAIN",
      "COMMIT",
      "*filter",
      `-D INPUT ${FOREIGN_INPUT_RULE(FOREIGN_SOURCE[family])}`,
      "-D FORWARD -j FOREIGN-CHAIN",
      "-F FOREIGN-CHAIN",
      "-X FOREIGN-CHAIN",
      "COMMIT",
    ].join("\n") + "\n";
    const program = family === "ipv4" ? "iptables-restore" : "ip6tables-restore";
    await tool([program, "--noflush", "-w"], input);
  }
  await runCommand(["ipset", "destroy", "FOREIGN-SET"]);
}

/** Everything foreign, as the tools print it. */
async function foreignSnapshot() {
  return {
    ipset: await tool(["ipset", "save", "FOREIGN-SET"]),
    iptables: (await saved("iptables-save")).split("\n").filter((l) => !l.includes("KUBE-")),
    ip6tables: (await saved("ip6tables-save")).split("\n").filter((l) => !l.includes("KUBE-")),
    addresses: await tool(["ip", "addr", "show", "dev", "foreign0"]),
  };
}

Deno.test("a sync and a cleanup leave foreign sets, chains, rules and addresses byte-identical", async () => {
  await prepareNamespace();
  await cleanUp();
  await createNodeDevice();
  await createForeignState();
  try {
    const before = await foreignSnapshot();
    const iptablesBefore = await saved("iptables-save");
    const backend = namespaceBackend();
    const desired = desiredState(await backend.nodeAddresses());
    const synced = await backend.apply(
      diffStates(await backend.read(), desired, { excludeCIDRs: [] }),
    );
    assert.deepEqual(synced.failures, []);
    assert.deepEqual(await foreignSnapshot(), before, "after the sync");
    const cleaned = await backend.apply(cleanupPlan(await backend.read()));
    assert.deepEqual(cleaned.failures, []);
    assert.deepEqual(await foreignSnapshot(), before, "after the cleanup");
    // Nothing of ours is left, and the whole of iptables-save is as it was before the sync.
    assert.equal(await saved("iptables-save"), iptablesBefore);
    assert.doesNotMatch(await saved("iptables-save"), /KUBE-/);
    assert.doesNotMatch(await saved("ip6tables-save"), /KUBE-/);
    assert.deepEqual((await tool(["ipset", "list", "-n"])).trim().split("\n"), ["FOREIGN-SET"]);
    const link = await runCommand(["ip", "link", "show", IPVS_DEVICE]);
    assert.notEqual(link.code, 0, "kube-ipvs0 is gone");
    assert.match(link.stderr, /does not exist/);
  } finally {
    await removeForeignState();
    await cleanUp();
    await deleteNodeDevice();
  }
});

Deno.test("running the cleanup a second time finds nothing and writes nothing", async () => {
  await prepareNamespace();
  await cleanUp();
  const backend = namespaceBackend();
  const desired = desiredState(["192.168.0.10", "fd00:10::10"]);
  await backend.apply(diffStates(await backend.read(), desired, { excludeCIDRs: [] }));
  const first = await backend.apply(cleanupPlan(await backend.read()));
  assert.deepEqual(first.failures, []);
  assert.ok(first.writes > 0);
  const again = cleanupPlan(await backend.read());
  assert.deepEqual(again, []);
  assert.deepEqual(await backend.apply(again), { applied: 0, failures: [], writes: 0 });
});

Deno.test("an ipset entry of the wrong family is reported with the tool, its line and ipset's stderr", async () => {
  await prepareNamespace();
  await cleanUp();
  const set = "KUBE-CLUSTER-IP";
  const plan: Operation[] = [
    { op: "ipset.create", set: { name: set, type: "hash:ip,port", family: "inet" } },
    { op: "ipset.add", set, entry: "10.0.0.1,tcp:80" },
    { op: "ipset.add", set, entry: "fd00::1,tcp:80" },
    { op: "ipset.add", set, entry: "10.0.0.2,tcp:80" },
    { op: "link.add", device: IPVS_DEVICE },
  ];
  const backend = namespaceBackend();
  const result = await backend.apply(plan);
  assert.equal(result.writes, 1, "the ip run after the failed ipset run is not started");
  assert.equal(result.applied, 1);
  const [lost, rejected, stopped, notStarted] = result.failures;
  assert.deepEqual(rejected.operation, plan[2]);
  assert.equal(rejected.tool, "ipset restore");
  assert.equal(rejected.line, `add ${set} fd00::1,tcp:80 -exist`);
  assert.match(rejected.message, /^ipset v[\d.]+: Error in line 3: .*fd00::1/);
  // ipset restore drops the add it buffered before the bad line; the read-back notices.
  assert.deepEqual(lost.operation, plan[1]);
  assert.match(lost.message, /^not applied: ipset restore dropped it when line 3 failed/);
  assert.deepEqual(stopped.operation, plan[3]);
  assert.equal(stopped.message, "not applied: ipset restore stopped at line 3");
  assert.deepEqual(notStarted, {
    operation: plan[4],
    tool: "ip -batch",
    line: "",
    message: NOT_APPLIED_EARLIER,
  });
  // The set was created, and holds nothing: not even the add before the bad line.
  assert.deepEqual(parseIpsetSave(await tool(["ipset", "save", set]))[0].entries, []);
  await cleanUp();
});

Deno.test("an iptables table that refers to a missing set fails whole and stops the later runs", async () => {
  await prepareNamespace();
  await cleanUp();
  const rule = "-m set --match-set KUBE-TEST-MISSING dst,dst -j RETURN";
  const plan: Operation[] = [{
    op: "iptables.restore",
    family: "ipv4",
    table: "nat",
    chains: [{ name: "KUBE-SERVICES", rules: [rule] }],
    addJumps: [],
    deleteJumps: [],
    deleteChains: [],
  }, { op: "link.add", device: IPVS_DEVICE }];
  const before = await saved("iptables-save");
  const result = await namespaceBackend().apply(plan);
  assert.equal(result.applied, 0);
  assert.equal(result.writes, 1);
  assert.equal(result.failures[0].tool, "iptables-restore (nat)");
  assert.equal(result.failures[0].line, `-A KUBE-SERVICES ${rule}`);
  assert.match(result.failures[0].message, /KUBE-TEST-MISSING/);
  assert.equal(result.failures[1].message, NOT_APPLIED_EARLIER);
  assert.equal(await saved("iptables-save"), before, "the table is unchanged");
  assert.equal((await runCommand(["ip", "link", "show", IPVS_DEVICE])).code, 1);
});
