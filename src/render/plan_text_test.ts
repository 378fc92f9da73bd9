import assert from "node:assert/strict";
import type { Plan } from "../plan/types.ts";
import type { KernelState } from "../state/types.ts";
import { emptyKernelState } from "../state/keys.ts";
import { diffStates } from "../plan/diff.ts";
import { renderPlanText, renderStateJson, stateJsonChunks } from "./plan_text.ts";
import { toolInvocations } from "./tool_inputs.ts";

const vsKey = { protocol: "tcp", address: "10.0.0.1", port: 443 } as const;
const plan: Plan = [
  { op: "link.add", device: "kube-ipvs0" },
  { op: "ipset.create", set: { name: "KUBE-CLUSTER-IP", type: "hash:ip,port", family: "inet" } },
  { op: "ipset.add", set: "KUBE-CLUSTER-IP", entry: "10.0.0.1,tcp:443" },
  {
    op: "iptables.restore",
    family: "ipv4",
    table: "nat",
    chains: [{ name: "KUBE-MARK-MASQ", rules: ["-j MARK --set-xmark 0x4000/0x4000"] }],
    addJumps: [],
    deleteJumps: [],
    deleteChains: [],
  },
  {
    op: "iptables.restore",
    family: "ipv6",
    table: "filter",
    chains: [{ name: "KUBE-FORWARD", rules: [] }],
    addJumps: [],
    deleteJumps: [],
    deleteChains: [],
  },
  {
    op: "ipvs.addVirtualServer",
    virtualServer: {
      ...vsKey,
      scheduler: "rr",
      persistenceTimeout: 0,
      flags: [],
      service: "a/b:c",
    },
  },
  {
    op: "ipvs.addRealServer",
    virtualServer: vsKey,
    realServer: { address: "10.244.0.5", port: 8443, forward: "masq", weight: 1 },
  },
  { op: "address.add", device: "kube-ipvs0", address: "10.0.0.1/32" },
  { op: "ipset.destroy", set: "KUBE-OLD" },
];

Deno.test({
  name: "renderPlanText() shows each tool's exact stdin under a header, in apply order",
  permissions: "none",
  fn() {
    assert.equal(
      renderPlanText(plan),
      [
        "# ip -batch - (1 line)",
        "link add kube-ipvs0 type dummy",
        "",
        "# ipset restore (2 lines)",
        "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 -exist",
        "add KUBE-CLUSTER-IP 10.0.0.1,tcp:443 -exist",
        "",
        "# iptables-restore --noflush -w (nat)",
        "*nat",
        ":KUBE-MARK-MASQ - [0:0]",
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
        "COMMIT",
        "",
        "# ip6tables-restore --noflush -w (filter)",
        "*filter",
        ":KUBE-FORWARD - [0:0]",
        "COMMIT",
        "",
        "# ipvsadm --restore (2 lines)",
        "-A -t 10.0.0.1:443 -s rr",
        "-a -t 10.0.0.1:443 -r 10.244.0.5:8443 -m -w 1",
        "",
        "# ip -batch - (1 line)",
        "address add 10.0.0.1/32 dev kube-ipvs0",
        "",
        "# ipset restore (1 line)",
        "destroy KUBE-OLD",
        "",
      ].join("\n"),
    );
  },
});

Deno.test({
  name: "each section of the plan text is exactly a tool invocation's stdin",
  permissions: "none",
  fn() {
    const runs = toolInvocations(plan);
    assert.equal(runs.length, 7);
    const text = renderPlanText(plan);
    for (const run of runs) assert.ok(text.includes(run.stdin));
    assert.deepEqual(runs[1].argv, ["ipset", "restore"]);
    assert.equal(runs[1].lineOperations[1], plan[2]);
    assert.equal(runs[3].table, "filter");
  },
});

Deno.test({
  name: "an empty plan says there is nothing to change; a summary counts operations",
  permissions: "none",
  fn() {
    assert.equal(
      renderPlanText([]),
      "# no changes: the kernel already matches the desired state\n",
    );
    assert.deepEqual(toolInvocations([]), []);
    const summary = renderPlanText(plan.slice(1, 3), { summary: true }).split("\n")[0];
    assert.equal(summary, "# 2 operations: 1 ipset.add, 1 ipset.create");
  },
});

Deno.test({
  name: "renderStateJson() prints the state with iptables text and the plan as they are",
  permissions: "none",
  fn() {
    const empty = emptyKernelState();
    const state: KernelState = {
      ...empty,
      families: ["ipv4"],
      virtualServers: [{
        ...vsKey,
        scheduler: "rr",
        persistenceTimeout: 0,
        flags: [],
        service: "a/b:c",
        realServers: [{
          address: "10.244.0.5",
          port: 8443,
          forward: "masq",
          weight: 1,
          activeConnections: 4,
        }],
      }],
      ipsets: [{
        name: "KUBE-X",
        type: "hash:ip",
        family: "inet",
        comment: "why",
        entries: ["2.2.2.2", "1.1.1.1"],
      }],
      linkPresent: true,
      addresses: [{ device: "kube-ipvs0", address: "10.0.0.1/32" }],
    };
    const json = renderStateJson(state, plan.slice(0, 1));
    assert.ok(json.endsWith("}\n"));
    const parsed = JSON.parse(json);
    assert.deepEqual(Object.keys(parsed), [
      "virtualServers",
      "ipsets",
      "iptables",
      "ip6tables",
      "addresses",
      "plan",
    ]);
    assert.deepEqual(parsed.virtualServers[0].realServers[0], {
      address: "10.244.0.5",
      port: 8443,
      forward: "masq",
      weight: 1,
    });
    assert.deepEqual(parsed.ipsets[0], {
      name: "KUBE-X",
      type: "hash:ip",
      family: "inet",
      entries: ["1.1.1.1", "2.2.2.2"],
    });
    assert.deepEqual(parsed.iptables, { nat: "*nat\nCOMMIT\n", filter: "*filter\nCOMMIT\n" });
    assert.deepEqual(parsed.ip6tables, { nat: "", filter: "" });
    assert.deepEqual(parsed.plan, [{ op: "link.add", device: "kube-ipvs0" }]);
    assert.equal(json, JSON.stringify(parsed, null, 2) + "\n");
  },
});

Deno.test({
  name: "the JSON output in chunks is exactly JSON.stringify of the whole document",
  permissions: { read: ["tests/fixtures/"] },
  fn() {
    const state = JSON.parse(
      Deno.readTextFileSync(
        new URL("../../tests/fixtures/states/ipv4_two_services.json", import.meta.url),
      ),
    );
    const plan = diffStates(emptyKernelState(), state, { excludeCIDRs: [] });
    const chunks = [...stateJsonChunks(state, plan)];
    const document = JSON.parse(chunks.join(""));
    assert.equal(chunks.join(""), JSON.stringify(document, null, 2) + "\n");
    assert.equal(document.plan.length, plan.length);
    assert.ok(document.virtualServers.length > 0);
  },
});

Deno.test({
  name: "a plan of thousands of operations prints in batches as the same JSON, in order",
  permissions: "none",
  fn() {
    const entries = Array.from({ length: 2500 }, (_, i) => `10.96.${i >> 8}.${i & 255},tcp:80`);
    const state = {
      ...emptyKernelState(),
      families: ["ipv4" as const],
      ipsets: [{
        name: "KUBE-CLUSTER-IP",
        type: "hash:ip,port" as const,
        family: "inet" as const,
        comment: "",
        entries,
      }],
    };
    const plan = diffStates(emptyKernelState(), state, { excludeCIDRs: [] });
    const text = [...stateJsonChunks(state, plan)].join("");
    const document = JSON.parse(text);
    assert.equal(text, JSON.stringify(document, null, 2) + "\n");
    assert.deepStrictEqual(document.plan, plan);
  },
});
