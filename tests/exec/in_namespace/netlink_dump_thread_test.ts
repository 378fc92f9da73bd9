/**
 * Dumps on the dump thread against this namespace's real kernel: the same messages as the
 * socket's own dump, the same errors with the caller's context, and a worker that neither
 * keeps a finished process alive nor lets one end with a dump pending.
 */
import assert from "node:assert/strict";
import { DumpThread } from "../../../backends/netlink/dump_thread.ts";
import { IpsetClient, IpsetMessages } from "../../../backends/netlink/ipset.ts";
import { IPSET_CMD } from "../../../backends/netlink/ipset_errors.ts";
import type { NetlinkMessage } from "../../../backends/netlink/message.ts";
import {
  NETLINK_NETFILTER,
  NetlinkError,
  NetlinkSocket,
} from "../../../backends/netlink/socket.ts";
import { prepareNamespace, tool } from "./namespace_helpers.ts";

const SET = "KUBE-DUMP-THREAD-TEST";

/** What identifies a message apart from its sequence number and port. */
const content = (messages: readonly NetlinkMessage[]) =>
  messages.map(({ type, flags, payload }) => ({ type, flags, payload: [...payload] }));

async function withSet(test: () => Promise<void>): Promise<void> {
  await prepareNamespace();
  await tool(["ipset", "create", SET, "hash:ip,port", "-exist"]);
  const entries = Array.from(
    { length: 3000 },
    (_, i) => `add ${SET} 10.1.${i >> 8}.${i & 255},tcp:80`,
  );
  await tool(["ipset", "restore", "-exist"], entries.join("\n") + "\n");
  try {
    await test();
  } finally {
    await tool(["ipset", "destroy", SET]);
  }
}

/** `test` with a netfilter socket of this thread and a dump thread, both closed after it. */
function withSocketAndThread(
  test: (socket: NetlinkSocket, thread: DumpThread) => Promise<void>,
): Promise<void> {
  return withSet(async () => {
    const socket = NetlinkSocket.open(NETLINK_NETFILTER);
    const thread = new DumpThread(NETLINK_NETFILTER);
    try {
      await test(socket, thread);
    } finally {
      socket.close();
      await thread.close();
    }
  });
}

/** An ipset list request (of the set named `name`, or of all sets). */
function listRequest(name?: string) {
  return new IpsetMessages(7).request(IPSET_CMD.LIST, (w) => {
    if (name !== undefined) w.string(2, name); // IPSET_ATTR_SETNAME
  });
}

Deno.test("a dump on the thread gives the messages the socket's own dump gives", () =>
  withSocketAndThread(async (socket, thread) => {
    const context = { operation: "ipset list", object: "all sets" };
    const own = await socket.dump(listRequest(), context);
    const threaded = await thread.dump(listRequest(), context);
    assert.ok(own.length > 1, "a dump over several messages");
    assert.deepEqual(content(threaded), content(own));
  }));

Deno.test("an ipset client listing on the thread reads what it reads on its own socket", () =>
  withSet(async () => {
    const thread = new DumpThread(NETLINK_NETFILTER);
    const threaded = await IpsetClient.open(NetlinkSocket.open(NETLINK_NETFILTER), thread);
    const own = await IpsetClient.open();
    try {
      const keep = (name: string) => name === SET;
      const sets = await threaded.listSorted(keep);
      assert.equal(sets[0].entries.length, 3000);
      assert.deepEqual(sets, await own.listSorted(keep));
      assert.deepEqual(await threaded.list(keep), await own.list(keep));
    } finally {
      threaded.close();
      own.close();
      await thread.close();
    }
  }));

Deno.test("a dump the kernel refuses on the thread fails as on the socket, in the caller's words", () =>
  withSocketAndThread(async (socket, thread) => {
    const request = listRequest("KUBE-NO-SUCH-SET");
    const context = {
      operation: "ipset list",
      object: "KUBE-NO-SUCH-SET",
      explain: (errno: number) => `explained ${errno}`,
    };
    const own = await socket.dump(request, context).catch((error) => error);
    const threaded = await thread.dump(request, context).catch((error) => error);
    assert.ok(own instanceof NetlinkError && threaded instanceof NetlinkError);
    assert.equal(threaded.message, own.message);
    assert.equal(threaded.errno, own.errno);
    assert.match(threaded.message, /^ipset list KUBE-NO-SUCH-SET: explained \d+/);
  }));

Deno.test("a closed thread fails its pending dump by name, and a later dump starts a new one", () =>
  withSet(async () => {
    const thread = new DumpThread(NETLINK_NETFILTER);
    const request = listRequest();
    const context = { operation: "ipset list", object: "all sets" };
    try {
      await thread.dump(request, context); // the worker is up
      const pending = thread.dump(request, context);
      await thread.close();
      await assert.rejects(pending, /^Error: ipset list all sets: the dump thread was closed$/);
      assert.ok((await thread.dump(request, context)).length > 0);
    } finally {
      await thread.close();
    }
  }));

Deno.test("a process with an idle dump thread ends by itself, and one with a dump pending waits for it", async () => {
  await prepareNamespace();
  const module = new URL("../../../backends/netlink/dump_thread.ts", import.meta.url).href;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    // No close(): the process must end when its main module is done, after the dump.
    await Deno.writeTextFile(
      script,
      [
        `import { DumpThread } from "${module}";`,
        "const thread = new DumpThread(0);",
        "thread.dump({ type: 18, flags: 0, payload: new Uint8Array(16) }, " +
        "{ operation: 'dump', object: 'links' }).then((m) => console.log(m.length));",
      ].join("\n"),
    );
    const started = performance.now();
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "-A", script],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(20_000), // a worker that kept it alive: killed, and failed
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    assert.ok(Number(new TextDecoder().decode(output.stdout)) >= 1, "the pending dump finished");
    assert.ok(performance.now() - started < 10_000, "and the process did not hang after it");
  } finally {
    await Deno.remove(script);
  }
});
