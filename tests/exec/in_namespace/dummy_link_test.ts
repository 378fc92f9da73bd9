/**
 * `kube-ipvs0` at startup through rtnetlink (the netlink backend's node preparation) on this
 * kernel, in a private network namespace: a link of that name is kept as it is, and where the
 * kernel has no dummy link type (this one) the step fails saying so and what to do, as the `ip`
 * tool's path does. (Where it has one, the VM's netlink end-to-end runs create it.)
 */
import assert from "node:assert/strict";
import {
  applyNodePreparation,
  NodePreparationError,
} from "../../../backends/exec/node_preparation.ts";
import { runCommand } from "../../../backends/exec/command.ts";
import { rtnetlinkDummyLink } from "../../../backends/netlink/dummy_link.ts";
import { assertPrivateNamespace, tool } from "./namespace_helpers.ts";

const STEPS = [{ kind: "dummy-link", name: "kube-ipvs0" } as const];

function prepare() {
  return applyNodePreparation(STEPS, { run: runCommand, ensureDummyLink: rtnetlinkDummyLink() });
}

Deno.test("an existing kube-ipvs0 is kept as it is by the netlink startup", async () => {
  await assertPrivateNamespace();
  await tool(["ip", "link", "add", "kube-ipvs0", "type", "veth", "peer", "name", "kube-peer"]);
  try {
    assert.deepEqual(await prepare(), [], "nothing created, nothing logged");
    const shown = JSON.parse(await tool(["ip", "-j", "-d", "link", "show", "kube-ipvs0"]));
    assert.equal(shown[0].linkinfo.info_kind, "veth", "the same link, not replaced");
  } finally {
    await tool(["ip", "link", "delete", "kube-ipvs0"]);
  }
});

Deno.test(
  "the netlink startup on a kernel without the dummy link type says how to fix it",
  async () => {
    await assertPrivateNamespace();
    const probe = await runCommand(["ip", "link", "add", "probe0", "type", "dummy"]);
    if (probe.code === 0) {
      // A kernel with the dummy type: creation itself is the thing to check.
      await tool(["ip", "link", "delete", "probe0"]);
      assert.deepEqual(await prepare(), ["Created the dummy link kube-ipvs0 (left down)"]);
      await tool(["ip", "link", "delete", "kube-ipvs0"]);
      return;
    }
    const error = await prepare().catch((e) => e);
    assert.ok(error instanceof NodePreparationError, String(error));
    assert.equal(error.problems.length, 1);
    assert.match(
      error.problems[0],
      /^cannot create the kube-ipvs0 link \(the kernel has no dummy link type; fix: modprobe -- dummy\): rtnetlink add link dummy kube-ipvs0: EOPNOTSUPP/,
    );
  },
);
