import assert from "node:assert/strict";
import { emptyKernelState } from "../../src/state/keys.ts";
import { contractDesiredState } from "../contract.ts";
import { DryRunBackend } from "./dry_run_backend.ts";
import { loadStateFile, saveStateFile, stateFileText } from "./state_file.ts";

const FIXTURE = new URL("../../tests/fixtures/states/ipv4_two_services.json", import.meta.url);
const desired = contractDesiredState({ ipvs: true, addresses: true, families: ["ipv4"] });

Deno.test({
  name: "loadStateFile() of a missing file is an empty kernel",
  permissions: { read: true },
  async fn() {
    assert.deepEqual(await loadStateFile("/nonexistent/ipvs-proxy-state.json"), emptyKernelState());
  },
});

Deno.test({
  name: "the fixture state file loads, and saving it gives the same text",
  permissions: { read: true },
  async fn() {
    const loaded = await loadStateFile(FIXTURE.pathname);
    assert.equal(stateFileText(loaded), await Deno.readTextFile(FIXTURE));
    assert.equal(stateFileText(loaded), stateFileText(desired));
  },
});

Deno.test({
  name: "saveStateFile() then loadStateFile() gives the dry-run kernel's state back",
  permissions: { read: true, write: true },
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const backend = new DryRunBackend({ initial: desired });
      const path = `${dir}/state.json`;
      await saveStateFile(path, await backend.read());
      assert.deepEqual(await loadStateFile(path), await backend.read());
      const text = await Deno.readTextFile(path);
      assert.ok(text.endsWith("}\n") && text.includes('\n  "virtualServers": ['));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a malformed state file fails naming the file and the bad field",
  permissions: { read: true, write: true },
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/bad.json`;
      const bad = JSON.parse(stateFileText(desired));
      bad.virtualServers[1].realServers[0].port = "fifty-three";
      await Deno.writeTextFile(path, JSON.stringify(bad));
      await assert.rejects(
        () => loadStateFile(path),
        (e: Error) =>
          e.message.startsWith(
            `Cannot load state file "${path}": virtualServers[1].realServers[0].port`,
          ) &&
          e.message.includes('got "fifty-three"'),
      );
      await Deno.writeTextFile(path, "{ not json");
      await assert.rejects(() => loadStateFile(path), /Cannot load state file ".*bad.json": /);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
