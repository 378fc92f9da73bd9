import assert from "node:assert/strict";
import { cpioNewc } from "./cpio.ts";

Deno.test({
  name: "cpioNewc() writes newc headers, 4-byte alignment and the trailer",
  permissions: "none",
  fn: () => {
    const archive = cpioNewc([
      { path: "bin", mode: 0o755 },
      { path: "bin/hello", mode: 0o755, data: new TextEncoder().encode("hi\n") },
    ]);
    const text = new TextDecoder().decode(archive);
    assert.equal(archive.length % 4, 0);
    assert.ok(text.startsWith("070701"));
    // Directory: mode 040755; file: mode 0100755, size 3.
    assert.equal(text.slice(14, 22), (0o040755).toString(16).padStart(8, "0"));
    const file = text.indexOf("070701", 1);
    assert.equal(text.slice(file + 14, file + 22), (0o100755).toString(16).padStart(8, "0"));
    assert.equal(parseInt(text.slice(file + 54, file + 62), 16), 3);
    assert.ok(text.includes("bin/hello\0"));
    assert.ok(text.includes("hi\n"));
    assert.ok(text.includes("TRAILER!!!\0"));
  },
});

Deno.test({
  name: "cpioNewc() round-trips through the cpio tool",
  permissions: { run: true, read: true, write: true, env: true },
  fn: async () => {
    const archive = cpioNewc([
      { path: "etc", mode: 0o755 },
      { path: "etc/odd name", mode: 0o644, data: new TextEncoder().encode("x".repeat(5)) },
    ]);
    let output;
    try {
      const child = new Deno.Command("cpio", {
        args: ["-t"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const collected = child.output();
      const writer = child.stdin.getWriter();
      await writer.write(archive);
      await writer.close();
      output = await collected;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      // CI installs cpio: there a missing tool is a failure, not a silent skip.
      if (Deno.env.get("REQUIRE_KERNEL_TESTS") === "1") {
        assert.fail("REQUIRE_KERNEL_TESTS=1 but cpio is not installed (apt-get install cpio)");
      }
      console.log("skipped: cpio is not installed");
      return;
    }
    assert.equal(new TextDecoder().decode(output.stdout), "etc\netc/odd name\n");
  },
});
