import assert from "node:assert/strict";
import { renderInitConf, renderRequest, shellQuote } from "./guest_files.ts";

const HOSTILE = ["it's", 'a "b" $HOME `id` \\ $(id)', "new\nline", "*", "", "--", "-e"];

Deno.test({
  name: "shellQuote() single-quotes and escapes embedded single quotes",
  permissions: "none",
  fn: () => {
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.throws(() => shellQuote("a\0b"), /NUL byte/);
  },
});

Deno.test({
  name: "request.sh passes hostile arguments and environment values through unchanged",
  permissions: { run: true, read: true, write: true },
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const script = renderRequest({
        command: ["sh", "-c", 'printf "%s|" "$@"; printf "%s" "$ODD"', "sh", ...HOSTILE],
        cwd: dir,
        env: { PATH: "/usr/bin:/bin", ODD: HOSTILE.join("#") },
      });
      await Deno.writeTextFile(`${dir}/request.sh`, script);
      const output = await new Deno.Command("sh", { args: [`${dir}/request.sh`] }).output();
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      assert.equal(
        new TextDecoder().decode(output.stdout),
        HOSTILE.map((arg) => `${arg}|`).join("") + HOSTILE.join("#"),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "renderRequest() rejects bad variable names and empty commands",
  permissions: "none",
  fn: () => {
    assert.throws(() => renderRequest({ command: [], cwd: "/", env: {} }), /empty command/);
    assert.throws(
      () => renderRequest({ command: ["true"], cwd: "/", env: { "A B": "1" } }),
      /'A B' in the VM: not a valid name/,
    );
  },
});

Deno.test({
  name: "renderInitConf() quotes paths and accepts only module names to preload",
  permissions: "none",
  fn: () => {
    const conf = renderInitConf({
      projectDir: "/work/my project",
      modulesDir: "/cache/lib/modules/6.1.0-56-amd64",
      preload: ["ip_vs", "ip_vs_rr"],
      deadlineSeconds: 630,
      denoDir: "/tmp/deno dir",
    });
    assert.match(conf, /^PROJECT_DIR='\/work\/my project'$/m);
    assert.match(conf, /^DENO_CACHE_DIR='\/tmp\/deno dir'$/m);
    assert.match(conf, /^PRELOAD='ip_vs ip_vs_rr'$/m);
    assert.match(conf, /^DEADLINE=630$/m);
    assert.throws(
      () =>
        renderInitConf({
          projectDir: "/",
          modulesDir: "/",
          preload: ["ip_vs; reboot"],
          deadlineSeconds: 1,
        }),
      /Cannot preload kernel module 'ip_vs; reboot'/,
    );
  },
});
