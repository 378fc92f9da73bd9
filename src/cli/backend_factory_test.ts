import assert from "node:assert/strict";
import { backendKind } from "./backend_factory.ts";
import { parseFlags } from "./flags.ts";

const never = () => {
  throw new Error("the netlink probe must not run here");
};

Deno.test("a named --backend is used as named, without probing netlink", () => {
  assert.deepEqual(backendKind(parseFlags(["--backend", "exec"]), "netlink", never), {
    kind: "exec",
  });
  assert.deepEqual(backendKind(parseFlags(["--backend", "netlink"]), "exec", never), {
    kind: "netlink",
  });
  assert.deepEqual(backendKind(parseFlags(["--dry-run"]), "netlink", never), { kind: "dry-run" });
});

Deno.test("without --backend the netlink backend is the default where a socket opens", () => {
  assert.deepEqual(backendKind(parseFlags([]), "netlink", () => undefined), { kind: "netlink" });
});

Deno.test("where netlink cannot run the exec backend is used, with a warning saying why", () => {
  const chosen = backendKind(parseFlags([]), "netlink", () => "Requires ffi access");
  assert.equal(chosen.kind, "exec");
  assert.match(chosen.warning ?? "", /netlink backend cannot run.*Requires ffi access.*exec/);
});

Deno.test("a preferred exec default skips the netlink probe", () => {
  assert.deepEqual(backendKind(parseFlags([]), "exec", never), { kind: "exec" });
});
