import {
  listManifestFiles,
  loadManifests,
  ManifestError,
  watchManifests,
} from "./manifest_source.ts";
import { assertEquals, assertOneWarning } from "./test_helpers.ts";

const PERMISSIONS: Deno.PermissionOptionsObject = {
  read: true,
  write: true,
  env: ["LOG_TOKENS", "LOG_STREAM"],
};

const SERVICE = (name: string, port = 80) =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec: {clusterIP: 10.0.0.5, ports: [{port: ${port}}]}\n`;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ipvs-proxy-cluster-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function rejects(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

Deno.test({
  name: "a missing path throws ManifestError naming it",
  permissions: PERMISSIONS,
  async fn() {
    const error = await rejects(loadManifests(["/nonexistent/ipvs-proxy/manifests"]));
    assertEquals(error instanceof ManifestError, true);
    assertEquals((error as Error).message.includes('"/nonexistent/ipvs-proxy/manifests"'), true);
    assertEquals((error as Error).cause instanceof Deno.errors.NotFound, true);
  },
});

Deno.test({
  name: "directories are walked recursively, sorted, by extension, skipping dot entries",
  permissions: PERMISSIONS,
  async fn() {
    await withTempDir(async (dir) => {
      await Deno.mkdir(`${dir}/b/c`, { recursive: true });
      await Deno.mkdir(`${dir}/..data`);
      for (
        const name of [
          "b/c/z.yml",
          "b/a.json",
          "a.yaml",
          "notes.txt",
          "..data/a.yaml",
          ".hidden.yaml",
        ]
      ) {
        await Deno.writeTextFile(`${dir}/${name}`, "");
      }
      await Deno.writeTextFile(`${dir}/other.manifest`, "");
      const again = `${dir}/b/../a.yaml`;
      assertEquals(await listManifestFiles([dir, `${dir}/other.manifest`, again]), [
        `${dir}/a.yaml`,
        `${dir}/b/a.json`,
        `${dir}/b/c/z.yml`,
        `${dir}/other.manifest`,
      ]);
    });
  },
});

Deno.test({
  name: "a YAML syntax error skips one document with file, line and column; the rest loads",
  permissions: PERMISSIONS,
  async fn() {
    await withTempDir(async (dir) => {
      const file = `${dir}/svc.yaml`;
      await Deno.writeTextFile(file, `${SERVICE("one")}---\nkind: [\n---\n${SERVICE("two")}`);
      const { snapshot, warnings } = await loadManifests([file]);
      assertEquals(snapshot.services.map((s) => s.name), ["one", "two"]);
      assertOneWarning(warnings, {
        source: file,
        object: "document 2",
        field: "",
        message: "YAML syntax error at line 7, column 1",
      });
    });
  },
});

Deno.test({
  name: "warnings come in file order and the first definition of an object wins across files",
  permissions: PERMISSIONS,
  async fn() {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/a.yaml`, SERVICE("web", 80));
      await Deno.writeTextFile(`${dir}/b.yaml`, `${SERVICE("web", 81)}---\n- not an object\n`);
      await Deno.writeTextFile(`${dir}/c.json`, '{"kind": ');
      const { snapshot, warnings } = await loadManifests([dir]);
      assertEquals(snapshot.services.map((s) => s.ports[0].port), [80]);
      assertEquals(warnings.map((w) => [w.source.slice(dir.length + 1), w.object]), [
        ["b.yaml", "Service default/web"],
        ["b.yaml", "document 2"],
        ["c.json", "document 1"],
      ]);
    });
  },
});

Deno.test({
  name: "watchManifests() calls onChange once after a burst of edits, and not after close()",
  permissions: PERMISSIONS,
  async fn() {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/a.yaml`, SERVICE("web"));
      let calls = 0;
      let changed!: () => void;
      const firstChange = new Promise<void>((resolve) => changed = resolve);
      const watcher = watchManifests([dir], () => {
        calls++;
        changed();
      }, { debounceMs: 50 });
      try {
        await Deno.writeTextFile(`${dir}/a.yaml`, SERVICE("web", 81));
        await Deno.writeTextFile(`${dir}/b.yaml`, SERVICE("api"));
        const timeout = new Promise<"timeout">((resolve) => {
          const id = setTimeout(() => resolve("timeout"), 5000);
          firstChange.then(() => clearTimeout(id));
        });
        assertEquals(await Promise.race([firstChange.then(() => "changed"), timeout]), "changed");
        assertEquals(calls, 1);
      } finally {
        watcher.close();
        await watcher.closed;
      }
      await Deno.writeTextFile(`${dir}/a.yaml`, SERVICE("web", 82));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assertEquals(calls, 1);
    });
  },
});

Deno.test({
  name: "watchManifests() on a file keeps seeing edits saved by renaming a new file over it",
  permissions: PERMISSIONS,
  async fn() {
    await withTempDir(async (dir) => {
      const file = `${dir}/web.yaml`;
      await Deno.writeTextFile(file, SERVICE("web"));
      let calls = 0;
      const watcher = watchManifests([file], () => calls++, { debounceMs: 30 });
      const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
      // The way editors and `sed -i` save: write a new file, rename it over the old one.
      const saveByRename = async (port: number) => {
        await Deno.writeTextFile(`${dir}/.web.yaml.tmp`, SERVICE("web", port));
        await Deno.rename(`${dir}/.web.yaml.tmp`, file);
        await settle();
      };
      try {
        await saveByRename(81);
        const afterFirst = calls;
        await saveByRename(82);
        assertEquals(afterFirst >= 1, true);
        assertEquals(calls > afterFirst, true);
        // Other files in the same directory are not manifests being watched.
        const before = calls;
        await Deno.writeTextFile(`${dir}/notes.txt`, "unrelated");
        await settle();
        assertEquals(calls, before);
      } finally {
        watcher.close();
        await watcher.closed;
      }
    });
  },
});

Deno.test({
  name: "watching a missing path throws ManifestError",
  permissions: PERMISSIONS,
  fn() {
    let caught: unknown;
    try {
      watchManifests(["/nonexistent/ipvs-proxy/manifests"], () => {});
    } catch (error) {
      caught = error;
    }
    assertEquals(caught instanceof ManifestError, true);
  },
});
