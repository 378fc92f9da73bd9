import assert from "node:assert/strict";
import { ManifestSnapshots } from "./manifest_snapshots.ts";

const SERVICE = (name: string, port: number) => `
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
  clusterIP: 10.0.0.${port - 70}
  ports: [{name: http, port: ${port}}]
---
`;

Deno.test("each read counts the services added, changed and removed since the read before", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/cluster.yaml`;
    const snapshots = new ManifestSnapshots([file], () => {});
    await Deno.writeTextFile(file, SERVICE("a", 80) + SERVICE("b", 81));
    assert.equal((await snapshots.read()).serviceChanges, 2);
    assert.equal((await snapshots.read()).serviceChanges, 0);
    await Deno.writeTextFile(file, SERVICE("a", 82) + SERVICE("c", 83));
    const read = await snapshots.read();
    // a changed, b removed, c added; no EndpointSlices at all.
    assert.deepEqual([read.serviceChanges, read.endpointChanges], [3, 0]);
    assert.deepEqual(read.snapshot.services.map((s) => s.name), ["a", "c"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the same warnings are logged once, not at every read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/cluster.yaml`;
    await Deno.writeTextFile(file, SERVICE("a", 80).replace("port: 80", "port: 70000"));
    const log: string[] = [];
    const snapshots = new ManifestSnapshots([file], (line) => log.push(line));
    await snapshots.read();
    await snapshots.read();
    assert.equal(log.length, 1);
    assert.match(log[0], /^warning: .*70000/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
