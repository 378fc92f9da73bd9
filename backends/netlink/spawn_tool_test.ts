import assert from "node:assert/strict";
import { spawnTool } from "./spawn_tool.ts";

Deno.test("a tool run by spawnTool gives its output and exit code, its stdin as passed", async () => {
  assert.deepEqual(await spawnTool(["sh", "-c", "echo out; echo err >&2; exit 3"]), {
    code: 3,
    stdout: "out\n",
    stderr: "err\n",
  });
  assert.equal((await spawnTool(["cat"], { stdin: "a\nb\n" })).stdout, "a\nb\n");
  assert.equal((await spawnTool(["cat"])).stdout, "", "no stdin: /dev/null");
});

Deno.test("spawnTool reports a missing program, one that cannot run, a signal and a timeout as runCommand does", async () => {
  const missing = await spawnTool(["no-such-tool-ipvs-proxy"]);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /command not found/);
  const notExecutable = await Deno.makeTempFile();
  try {
    await Deno.chmod(notExecutable, 0o644);
    assert.equal((await spawnTool([notExecutable])).code, 126);
  } finally {
    await Deno.remove(notExecutable);
  }
  assert.equal((await spawnTool(["sh", "-c", "kill -9 $$"])).code, 128 + 9);
  const stuck = await spawnTool(["sleep", "30"], { timeoutMs: 100 });
  assert.equal(stuck.code, 124);
  assert.match(stuck.stderr, /sleep: killed after 0.1 s \(timed out\)/);
});
