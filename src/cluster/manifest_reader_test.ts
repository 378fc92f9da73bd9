import assert from "node:assert/strict";
import { ManifestReader } from "./manifest_reader.ts";
import { ManifestError } from "./manifest_source.ts";

const SERVICE = (name: string, ip: string) =>
  `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: kube-system}
spec:
  clusterIP: ${ip}
  ports: [{name: dns, port: 53, protocol: UDP}]
`;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const names = (read: Awaited<ReturnType<ManifestReader["read"]>>) =>
  read.snapshot.services.map((s) => s.name);

Deno.test("an unchanged file is not decoded again", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.yaml`, SERVICE("kube-dns", "10.0.0.10"));
    await Deno.writeTextFile(`${dir}/b.yaml`, SERVICE("web", "10.0.0.80"));
    const reader = new ManifestReader([dir]);
    await reader.read();
    assert.equal(reader.decodedLastRead, 2);
    assert.deepEqual(names(await reader.read()), ["kube-dns", "web"]);
    assert.equal(reader.decodedLastRead, 0);
    await Deno.writeTextFile(`${dir}/b.yaml`, SERVICE("web", "10.0.0.81"));
    const read = await reader.read();
    assert.equal(reader.decodedLastRead, 1);
    assert.equal(read.snapshot.services[1].clusterIPs[0], "10.0.0.81");
  });
});

Deno.test("a file caught half-written keeps its last good objects until it decodes again", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/kube-system.yaml`;
    await Deno.writeTextFile(file, SERVICE("kube-dns", "10.0.0.10"));
    const reader = new ManifestReader([dir]);
    await reader.read();
    await Deno.writeTextFile(file, SERVICE("kube-dns", "10.0.0.10") + "broken: [\n");
    for (let i = 0; i < 2; i++) {
      const read = await reader.read();
      assert.deepEqual(names(read), ["kube-dns"], "kube-dns stays");
      assert.match(read.kept.join("\n"), /kube-system\.yaml" does not decode: keeping its last/);
      assert.match(read.warnings.map((w) => w.message).join("\n"), /YAML syntax error at line/);
    }
    await Deno.writeTextFile(file, SERVICE("kube-dns", "10.0.0.10") + SERVICE("web", "10.0.0.80"));
    const fixed = await reader.read();
    assert.deepEqual(names(fixed), ["kube-dns", "web"]);
    assert.deepEqual(fixed.kept, []);
  });
});

Deno.test("an emptied directory or a truncated file keeps the last objects; removing one of two files applies", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.yaml`, SERVICE("kube-dns", "10.0.0.10"));
    await Deno.writeTextFile(`${dir}/b.yaml`, SERVICE("web", "10.0.0.80"));
    const reader = new ManifestReader([dir]);
    await reader.read();

    await Deno.remove(`${dir}/b.yaml`);
    assert.deepEqual(names(await reader.read()), ["kube-dns"], "a real edit applies");

    await Deno.writeTextFile(`${dir}/a.yaml`, "");
    const truncated = await reader.read();
    assert.deepEqual(names(truncated), ["kube-dns"]);
    assert.match(truncated.kept[0], /holds no objects now: keeping its last objects/);

    await Deno.remove(`${dir}/a.yaml`);
    const emptied = await reader.read();
    assert.deepEqual(names(emptied), ["kube-dns"]);
    assert.match(emptied.kept[0], /holds no objects now/);

    await Deno.writeTextFile(`${dir}/c.yaml`, SERVICE("web", "10.0.0.80"));
    assert.deepEqual(names(await reader.read()), ["web"], "new objects replace the kept ones");
  });
});

Deno.test("a path that disappears after the first read keeps its objects; before it, it is bad input", async () => {
  await withDir(async (dir) => {
    const sub = `${dir}/cluster`;
    await Deno.mkdir(sub);
    await Deno.writeTextFile(`${sub}/a.yaml`, SERVICE("kube-dns", "10.0.0.10"));
    await assert.rejects(new ManifestReader([`${dir}/nope`]).read(), ManifestError);
    const reader = new ManifestReader([sub]);
    await reader.read();
    await Deno.remove(sub, { recursive: true });
    const read = await reader.read();
    assert.deepEqual(names(read), ["kube-dns"]);
    assert.match(read.kept[0], /cannot be read .*: keeping its last objects/);
  });
});

Deno.test("an object defined in two files keeps the first, with a warning naming both", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.yaml`, SERVICE("web", "10.0.0.80"));
    await Deno.writeTextFile(`${dir}/b.yaml`, SERVICE("web", "10.0.0.99"));
    const read = await new ManifestReader([dir]).read();
    assert.equal(read.snapshot.services[0].clusterIPs[0], "10.0.0.80");
    assert.equal(read.warnings.length, 1);
    assert.equal(read.warnings[0].source, `${dir}/b.yaml`);
    assert.match(read.warnings[0].message, /duplicates the Service already read from ".*a\.yaml"/);
  });
});
