import { assertEquals } from "./test_helpers.ts";
import { ConfigError } from "./errors.ts";
import { readConfigFile } from "./read_config_file.ts";

/** Asserts that reading `path` fails with a ConfigError that names the file and the reason. */
async function assertCannotRead(path: string, reason: string): Promise<void> {
  try {
    await readConfigFile(path);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    assertEquals(error.file, path);
    assertEquals(error.message.startsWith(`${path}: cannot read the config file: `), true);
    assertEquals(error.message.includes(reason), true, error.message);
    return;
  }
  throw new Error(`expected reading ${path} to fail`);
}

Deno.test({
  name: "readConfigFile() returns the text of a file",
  permissions: { read: true, write: true },
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/c.yaml`, "mode: ipvs\n");
      assertEquals(await readConfigFile(`${dir}/c.yaml`), "mode: ipvs\n");
      await assertCannotRead(`${dir}/missing.yaml`, "no such file");
      await assertCannotRead(dir, "directory");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "readConfigFile() says to grant read access when it is denied",
  permissions: "none",
  async fn() {
    await assertCannotRead("/etc/kube-proxy.yaml", "--allow-read");
  },
});
