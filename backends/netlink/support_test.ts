import assert from "node:assert/strict";
import { netlinkUnavailable } from "./support.ts";

Deno.test({
  name: "a process allowed FFI can open a netlink socket",
  permissions: { ffi: true, read: true },
  fn() {
    assert.equal(netlinkUnavailable(), undefined);
  },
});

Deno.test({
  name: "a process run without --allow-ffi is told why netlink cannot run",
  permissions: { run: true, read: true, write: true },
  async fn() {
    const probe = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      const support = new URL("./support.ts", import.meta.url).href;
      await Deno.writeTextFile(
        probe,
        `import { netlinkUnavailable } from "${support}";\nconsole.log(netlinkUnavailable());\n`,
      );
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-config", "--no-prompt", "--allow-read", probe],
      }).output();
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      assert.match(new TextDecoder().decode(output.stdout), /Requires ffi access.*--allow-ffi/);
    } finally {
      await Deno.remove(probe);
    }
  },
});
