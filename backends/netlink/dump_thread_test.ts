import assert from "node:assert/strict";
import { DumpThread, dumpThreadAllowed } from "./dump_thread.ts";

Deno.test({
  name: "a worker can be started where its modules can be read, and not where they cannot",
  permissions: { read: true },
  fn() {
    assert.equal(dumpThreadAllowed(), true);
  },
});

Deno.test({
  name: "without read access to its modules the dump thread is not allowed",
  permissions: { read: false, ffi: true },
  fn() {
    assert.equal(dumpThreadAllowed(), false);
  },
});

Deno.test({
  name: "a dump thread that never dumped starts nothing and closes at once",
  permissions: "none",
  async fn() {
    const thread = new DumpThread(12);
    await thread.close();
    await thread.close();
  },
});
