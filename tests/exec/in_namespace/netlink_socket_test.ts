/**
 * The netlink socket against the real kernel (rtnetlink in this private namespace): ACKs,
 * errors with their names, dumps, and batches whose errors map back to the message that
 * caused them, also across chunks.
 */
import assert from "node:assert/strict";
import {
  AttributeWriter,
  concatBytes,
  HOST_LITTLE_ENDIAN,
  type NetlinkRequest,
  NLM_F_CREATE,
  NLM_F_EXCL,
} from "../../../backends/netlink/message.ts";
import { NETLINK_ROUTE, NetlinkError, NetlinkSocket } from "../../../backends/netlink/socket.ts";
import { prepareNamespace, tool } from "./namespace_helpers.ts";

const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETLINK = 18;

function addressRequest(type: number, octets: number[], ifindex = 1): NetlinkRequest {
  const header = new Uint8Array(8);
  header[0] = 2; // AF_INET
  header[1] = 32;
  new DataView(header.buffer).setUint32(4, ifindex, HOST_LITTLE_ENDIAN);
  const address = new Uint8Array(octets);
  return {
    type,
    flags: type === RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0,
    payload: concatBytes([
      header,
      new AttributeWriter().binary(2, address).binary(1, address).bytes(),
    ]),
  };
}

const context = { operation: "add address", object: "10.77.0.1/32 dev lo" };

async function withSocket(test: (socket: NetlinkSocket) => Promise<void>): Promise<void> {
  await prepareNamespace();
  const socket = NetlinkSocket.open(NETLINK_ROUTE);
  try {
    await test(socket);
  } finally {
    socket.close();
    await tool(["ip", "addr", "flush", "dev", "lo", "scope", "global"]);
  }
}

Deno.test("a request is acknowledged and a repeated one fails with EEXIST and the object named", () =>
  withSocket(async (socket) => {
    assert.deepEqual(
      await socket.request(addressRequest(RTM_NEWADDR, [10, 77, 0, 1]), context),
      [],
    );
    assert.match(await tool(["ip", "-br", "addr", "show", "dev", "lo"]), /10\.77\.0\.1\/32/);
    await assert.rejects(
      () => socket.request(addressRequest(RTM_NEWADDR, [10, 77, 0, 1]), context),
      (error) =>
        error instanceof NetlinkError && error.errno === 17 &&
        error.message.startsWith("add address 10.77.0.1/32 dev lo: EEXIST (File exists)"),
    );
  }));

Deno.test("the socket's port id is the one the kernel gave it", () =>
  withSocket(async (socket) => {
    const second = NetlinkSocket.open(NETLINK_ROUTE);
    try {
      assert.notEqual(second.portId, socket.portId);
      assert.notEqual(socket.portId, 0);
    } finally {
      second.close();
    }
    await Promise.resolve();
  }));

Deno.test("a dump returns every link the kernel has, up to NLMSG_DONE", () =>
  withSocket(async (socket) => {
    const links = await socket.dump({ type: RTM_GETLINK, flags: 0, payload: new Uint8Array(16) }, {
      operation: "dump",
      object: "links",
    });
    const shown = (await tool(["ip", "-o", "link"])).trim().split("\n").length;
    assert.equal(links.length, shown);
  }));

Deno.test("a batch reports each refused message by its index and applies the rest", () =>
  withSocket(async (socket) => {
    const result = await socket.batch([
      addressRequest(RTM_NEWADDR, [10, 77, 0, 1]),
      addressRequest(RTM_NEWADDR, [10, 77, 0, 1]),
      addressRequest(RTM_NEWADDR, [10, 77, 0, 2]),
      addressRequest(RTM_NEWADDR, [10, 77, 0, 3], 999),
      addressRequest(RTM_DELADDR, [10, 77, 0, 9]),
    ], { operation: "add addresses", object: "lo" });
    assert.deepEqual(result.failures.map((f) => [f.index, f.errno]), [[1, 17], [3, 19], [4, 99]]);
    assert.equal(result.sends, 1);
    const shown = await tool(["ip", "-br", "addr", "show", "dev", "lo"]);
    assert.match(shown, /10\.77\.0\.1\/32 10\.77\.0\.2\/32/);
  }));

Deno.test("a batch larger than the send buffer goes in chunks, errors still mapped across them", () =>
  withSocket(async (socket) => {
    const requests = Array.from(
      { length: 6000 },
      (_, i) => addressRequest(RTM_NEWADDR, [10, 78, i >> 8, i & 0xff]),
    );
    requests.push(addressRequest(RTM_NEWADDR, [10, 78, 0, 5])); // the 6th again
    const result = await socket.batch(requests, { operation: "add addresses", object: "lo" });
    assert.ok(result.sends > 1, `${result.sends} sends`);
    assert.deepEqual(result.failures.map((f) => [f.index, f.errno]), [[6000, 17]]);
    const shown = await tool(["ip", "-o", "-4", "addr", "show", "dev", "lo"]);
    assert.equal(shown.trim().split("\n").filter((l) => l.includes("10.78.")).length, 6000);
  }));

Deno.test("replies lost to a full receive buffer are reported as ENOBUFS with an unknown outcome", async () => {
  await prepareNamespace();
  // A tiny receive buffer and one big chunk of messages that all fail: their errors overflow it.
  const socket = NetlinkSocket.open(NETLINK_ROUTE, {
    receiveBufferBytes: 4096,
    maxMessagesPerChunk: 100_000,
  });
  try {
    const requests = Array.from(
      { length: 2000 },
      (_, i) => addressRequest(RTM_DELADDR, [10, 79, i >> 8, i & 0xff]),
    );
    const result = await socket.batch(requests, { operation: "delete addresses", object: "lo" });
    assert.equal(result.failures.length, 2000, "no message succeeded, none may go unreported");
    const lost = result.failures.filter((f) => f.errno === 105);
    assert.ok(lost.length > 0, "some replies were lost");
    assert.match(lost[0].text!, /outcome unknown/);
    assert.ok(result.failures.every((f) => f.errno === 105 || f.errno === 99));
    // The socket still works afterwards: stale replies of the lost chunk are skipped.
    assert.deepEqual(
      await socket.request(addressRequest(RTM_NEWADDR, [10, 79, 9, 9]), context),
      [],
    );
  } finally {
    socket.close();
    await tool(["ip", "addr", "flush", "dev", "lo", "scope", "global"]);
  }
});

Deno.test("a long batch gives the event loop turns, so timers (and a health server) still run", () =>
  withSocket(async (socket) => {
    const requests = Array.from(
      { length: 6000 },
      (_, i) => addressRequest(RTM_NEWADDR, [10, 80, i >> 8, i & 0xff]),
    );
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const result = await socket.batch(requests, { operation: "add addresses", object: "lo" });
      assert.deepEqual(result.failures, []);
      assert.ok(result.sends > 1);
    } finally {
      clearInterval(timer);
    }
    assert.ok(ticks > 0, "no timer ran during the batch");
  }));
