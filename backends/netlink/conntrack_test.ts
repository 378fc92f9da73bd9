import assert from "node:assert/strict";
import { type ConntrackSocket, NetlinkConntrack } from "./conntrack.ts";
import { CTA, decodeTuple, udpEntries } from "./conntrack_messages.ts";
import { ERRNO, SyscallError } from "./libc.ts";
import {
  attributeMap,
  type NetlinkMessage,
  type NetlinkRequest,
  parseErrorReply,
  parseMessages,
} from "./message.ts";
import { type BatchFailure, type BatchResult, failureOf, NetlinkError } from "./replies.ts";
import type { UdpFlow } from "../../src/state/types.ts";

// Captured by tests/exec/in_namespace/netlink_conntrack_test.ts; read when the module loads,
// so the tests need no permissions.
const read = (name: string) =>
  parseMessages(Deno.readFileSync(new URL(`./testdata/${name}`, import.meta.url)));
const DUMPS: Record<number, NetlinkMessage[]> = {
  2: read("conntrack_dump_ipv4.bin"),
  10: read("conntrack_dump_ipv6.bin"),
};
/** The kernel's replies to three deletes: the second gone (ENOENT), the third EINVAL. */
const DELETE_REPLIES = read("conntrack_delete_replies.bin");

/** A socket whose dumps are the fixtures and whose batches answer with `failures`. */
class FakeSocket implements ConntrackSocket {
  readonly batches: NetlinkRequest[][] = [];
  closed = 0;
  failures: (requests: readonly NetlinkRequest[]) => BatchFailure[] = () => [];
  dumpError?: (family: number) => Error | undefined;
  batchError?: Error;

  dump(request: NetlinkRequest): Promise<NetlinkMessage[]> {
    const error = this.dumpError?.(request.payload[0]);
    if (error !== undefined) return Promise.reject(error);
    return Promise.resolve(DUMPS[request.payload[0]]);
  }

  batch(requests: readonly NetlinkRequest[]): Promise<BatchResult> {
    if (this.batchError !== undefined) return Promise.reject(this.batchError);
    this.batches.push([...requests]);
    return Promise.resolve({ failures: this.failures(requests), sends: 1 });
  }

  close(): void {
    this.closed++;
  }
}

function tableOn(socket: FakeSocket, deletesPerBatch?: number) {
  let opened = 0;
  const table = new NetlinkConntrack({
    open: () => {
      opened++;
      return socket;
    },
    ...(deletesPerBatch === undefined ? {} : { deletesPerBatch }),
  });
  return { table, opened: () => opened };
}

const DNS: UdpFlow = {
  family: "ipv4",
  origDst: "10.96.0.10",
  origDstPort: 53,
  replySrc: "10.244.1.2",
};
const DNS_ZONE_7: UdpFlow = { ...DNS, replySrc: "10.244.1.3" };
const MAPPED: UdpFlow = {
  family: "ipv6",
  origDst: "::ffff:10.1.2.3",
  origDstPort: 53,
  replySrc: "::0.2.0.3",
};

/** The original tuples a batch deletes, as `src:port -> dst:port` texts of the fixtures. */
function deletedTuples(requests: readonly NetlinkRequest[]) {
  return requests.map((r) => {
    const family = r.payload[0] === 10 ? "ipv6" : "ipv4";
    return decodeTuple(attributeMap(r.payload.subarray(4)).get(CTA.TUPLE_ORIG)!, family);
  });
}

Deno.test({
  name: "list gives the family's UDP flows and opens the socket once, on first use",
  permissions: "none",
  async fn() {
    const socket = new FakeSocket();
    const { table, opened } = tableOn(socket);
    assert.equal(opened(), 0);
    assert.deepEqual(await table.list("ipv4"), [DNS, DNS_ZONE_7]);
    assert.deepEqual(await table.list("ipv6"), [
      { family: "ipv6", origDst: "fd00:96::a", origDstPort: 53, replySrc: "fd00:244::2" },
      MAPPED,
    ]);
    assert.equal(opened(), 1);
  },
});

Deno.test({
  name: "delete sends one delete per matching dumped flow, by its exact tuple, in one batch",
  permissions: "none",
  async fn() {
    const socket = new FakeSocket();
    const { table } = tableOn(socket);
    // Written otherwise than the kernel writes them, and asked twice: the same flows.
    const wanted = [DNS, DNS, DNS_ZONE_7, { ...MAPPED, origDst: "0:0:0:0:0:FFFF:a01:203" }];
    assert.deepEqual(await table.delete(wanted), { deleted: 3, problems: [], writes: 1 });
    assert.equal(socket.batches.length, 1);
    const expected = [
      ...udpEntries(DUMPS[2], "ipv4"),
      udpEntries(DUMPS[10], "ipv6")[1],
    ].map((e) => e.orig);
    assert.deepEqual(deletedTuples(socket.batches[0]), expected);
  },
});

Deno.test({
  name: "nothing is sent when no dumped flow matches, and a family not asked for is not dumped",
  permissions: "none",
  async fn() {
    const socket = new FakeSocket();
    socket.dumpError = (family) => family === 10 ? new Error("IPv6 was dumped") : undefined;
    const { table } = tableOn(socket);
    const result = await table.delete([{ ...DNS, origDstPort: 54 }, {
      ...DNS,
      replySrc: "10.1.1.1",
    }]);
    assert.deepEqual(result, { deleted: 0, problems: [], writes: 0 });
    assert.equal(socket.batches.length, 0);
  },
});

Deno.test({
  name: "a flow already gone is not counted and no problem, another refusal is one sentence",
  permissions: "none",
  async fn() {
    const socket = new FakeSocket();
    // The kernel's own replies to three deletes, mapped to indexes by sequence number (1-3).
    socket.failures = () => DELETE_REPLIES.map((m) => failureOf(m.seq - 1, parseErrorReply(m))!);
    const { table } = tableOn(socket);
    const result = await table.delete([DNS, DNS_ZONE_7, MAPPED]);
    assert.equal(result.deleted, 1);
    assert.equal(result.writes, 1);
    assert.deepEqual(result.problems, [
      "nfnetlink conntrack delete udp flow [fd00::5]:40000 -> [::ffff:10.1.2.3]:53 replied by " +
      "::0.2.0.3: EINVAL (Invalid argument).",
    ]);
  },
});

Deno.test({
  name: "a refused delete of a flow in another zone names the zone",
  permissions: "none",
  async fn() {
    const socket = new FakeSocket();
    socket.failures = () => [{ index: 1, errno: ERRNO.EPERM }];
    const { table } = tableOn(socket);
    const result = await table.delete([DNS, DNS_ZONE_7]);
    assert.deepEqual(result.problems, [
      "nfnetlink conntrack delete udp flow 10.0.0.6:40001 -> 10.96.0.10:53 replied by " +
      "10.244.1.3 zone 7: EPERM (Operation not permitted).",
    ]);
    assert.equal(result.deleted, 1);
  },
});

Deno.test({
  name: "a family that cannot be dumped is one problem and the other family is still deleted",
  permissions: "none",
  async fn() {
    const socket = new FakeSocket();
    const refused = new NetlinkError(
      { operation: "nfnetlink conntrack list", object: "ipv4 udp flows" },
      ERRNO.EPERM,
    );
    socket.dumpError = (family) => family === 2 ? refused : undefined;
    const { table } = tableOn(socket);
    assert.deepEqual(await table.delete([DNS, MAPPED]), {
      deleted: 1,
      problems: ["nfnetlink conntrack list ipv4 udp flows: EPERM (Operation not permitted)."],
      writes: 1,
    });
  },
});

Deno.test({
  name: "a socket that cannot be opened fails list, is a problem of delete, and is tried again",
  permissions: "none",
  async fn() {
    let attempts = 0;
    const table = new NetlinkConntrack({
      open: () => {
        attempts++;
        throw new SyscallError("socket", ERRNO.EPERM);
      },
    });
    await assert.rejects(table.list("ipv4"), SyscallError);
    const result = await table.delete([DNS]);
    assert.deepEqual(result, {
      deleted: 0,
      problems: ["socket: EPERM (Operation not permitted)."],
      writes: 0,
    });
    assert.equal(attempts, 2);
  },
});

Deno.test({
  name: "a batch that fails as a whole is a problem whose outcome is unknown, never a throw",
  permissions: "none",
  async fn() {
    const socket = new FakeSocket();
    socket.batchError = new NetlinkError(
      { operation: "nfnetlink conntrack delete", object: "2 udp flows" },
      ERRNO.EAGAIN,
      { kernelText: "no reply before the receive timeout" },
    );
    const { table } = tableOn(socket);
    assert.deepEqual(await table.delete([DNS, DNS_ZONE_7]), {
      deleted: 0,
      problems: [
        "nfnetlink conntrack delete 2 udp flows: EAGAIN (Resource temporarily unavailable): " +
        "no reply before the receive timeout (outcome unknown).",
      ],
      writes: 1,
    });
  },
});

Deno.test({
  name: "a flow naming no valid address is a problem and is not looked for",
  permissions: "none",
  async fn() {
    const socket = new FakeSocket();
    const { table } = tableOn(socket);
    const result = await table.delete([{ ...DNS, origDst: "fd00::1" }, {
      ...MAPPED,
      replySrc: "x",
    }]);
    assert.deepEqual(result, {
      deleted: 0,
      problems: [
        "nfnetlink conntrack delete udp flow ipv4 to fd00::1 port 53 replied by 10.244.1.2: " +
        "not a valid ipv4 flow.",
        "nfnetlink conntrack delete udp flow ipv6 to ::ffff:10.1.2.3 port 53 replied by x: " +
        "not a valid ipv6 flow.",
      ],
      writes: 0,
    });
  },
});

Deno.test({
  name: "deletes go to the socket in batches of at most deletesPerBatch",
  permissions: "none",
  async fn() {
    const socket = new FakeSocket();
    socket.failures = (requests) =>
      requests.length === 1 ? [{ index: 0, errno: ERRNO.ENOENT }] : [];
    const { table } = tableOn(socket, 2);
    assert.deepEqual(await table.delete([DNS, DNS_ZONE_7, MAPPED]), {
      deleted: 2,
      problems: [],
      writes: 2,
    });
    assert.deepEqual(socket.batches.map((b) => b.length), [2, 1]);
  },
});

Deno.test({
  name: "close closes the open socket once and the next use opens another",
  permissions: "none",
  async fn() {
    const socket = new FakeSocket();
    const { table, opened } = tableOn(socket);
    table.close();
    assert.equal(socket.closed, 0, "nothing was open");
    await table.list("ipv4");
    table.close();
    table.close();
    assert.equal(socket.closed, 1);
    await table.list("ipv4");
    assert.equal(opened(), 2);
  },
});
