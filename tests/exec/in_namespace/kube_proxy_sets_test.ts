/**
 * A node taken over from kube-proxy: its sets, created exactly as kube-proxy's `createSet`
 * creates them (pkg/proxy/ipvs/ipset/ipset.go: hash sets `family F hashsize 1024 maxelem 65536`,
 * bitmap sets `range 0-65535`, no `comment` extension), must be read as ours and equal, and be
 * kept: a sync neither creates nor replaces them.
 */
import assert from "node:assert/strict";
import { diffStates } from "../../../src/plan/diff.ts";
import { createLine } from "../../../src/render/ipset.ts";
import type { IpSet } from "../../../src/state/types.ts";
import { runCommand } from "../../../backends/exec/command.ts";
import { cleanUp, namespaceBackend, prepareNamespace, tool } from "./namespace_helpers.ts";
import { createNodeDevice, deleteNodeDevice, desiredState } from "./cluster_fixture.ts";

/** The `ipset create` arguments kube-proxy's createSet passes for `set`. */
function kubeProxyCreate(set: IpSet): string {
  if (set.type === "bitmap:port") return `create ${set.name} ${set.type} range 0-65535 -exist`;
  return `create ${set.name} ${set.type} family ${set.family} hashsize 1024 maxelem 65536 -exist`;
}

/** kube-proxy's sets with their entries, one `ipset restore` (kube-proxy adds them one by one). */
async function createAsKubeProxy(sets: readonly IpSet[]): Promise<void> {
  const lines = sets.flatMap((set) => [
    kubeProxyCreate(set),
    ...set.entries.map((entry) => `add ${set.name} ${entry}`),
  ]);
  await tool(["ipset", "restore"], lines.join("\n") + "\n");
}

/** The `create` lines of `ipset save`: they carry each set's random `initval`, new on every create. */
async function createLines(): Promise<string[]> {
  return (await tool(["ipset", "save"])).split("\n").filter((l) => l.startsWith("create "));
}

function comparable(sets: readonly IpSet[]) {
  return sets.map(({ name, type, family, entries }) => ({
    name,
    type,
    family: type === "bitmap:port" ? "-" : family,
    entries: [...entries].sort(),
  })).sort((a, b) => a.name.localeCompare(b.name));
}

Deno.test("sets kube-proxy created are read as ours and equal, and a sync keeps them", async () => {
  await prepareNamespace();
  await cleanUp();
  await createNodeDevice();
  try {
    const backend = namespaceBackend();
    const desired = desiredState(await backend.nodeAddresses());
    await createAsKubeProxy(desired.ipsets);
    const before = await createLines();
    assert.equal(before.length, desired.ipsets.length);

    const current = await backend.read();
    assert.deepEqual(comparable(current.ipsets), comparable(desired.ipsets));
    const plan = diffStates(current, desired, { excludeCIDRs: [] });
    assert.deepEqual(plan.filter((op) => op.op.startsWith("ipset.")), [], "no set operation");

    const result = await backend.apply(plan);
    assert.deepEqual(result.failures, []);
    // Same initval: the very sets kube-proxy created, not replacements swapped in.
    assert.deepEqual(await createLines(), before);
  } finally {
    await cleanUp();
    await deleteNodeDevice();
  }
});

Deno.test("our create line is a no-op with -exist on every kind of set kube-proxy created", async () => {
  await prepareNamespace();
  await cleanUp();
  const backend = namespaceBackend();
  try {
    const sets = desiredState(["192.168.0.10"]).ipsets;
    await createAsKubeProxy(sets);
    const before = await createLines();
    for (const set of sets) {
      await tool(["ipset", "restore"], createLine(set) + "\n");
      // What 1780169 rendered: the same set with the comment extension, which -exist refuses,
      // so this test would have caught it.
      if (set.type !== "bitmap:port") {
        const withComment = createLine(set).replace(" -exist", " comment -exist");
        const refused = await runCommand(["ipset", "restore"], { stdin: withComment + "\n" });
        assert.notEqual(refused.code, 0, `ipset accepted ${withComment}`);
        assert.match(refused.stderr, /already exists/);
      }
    }
    assert.deepEqual(await createLines(), before);
  } finally {
    await cleanUp(backend);
  }
});
