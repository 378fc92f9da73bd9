import assert from "node:assert/strict";
import {
  attributeMap,
  AttributeWriter,
  attrString,
  attrU16,
  attrU32,
  attrU8,
  doneErrno,
  encodeMessage,
  NetlinkParseError,
  NLA_F_NESTED,
  NLM_F_ACK,
  NLM_F_CAPPED,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  parseAttributes,
  parseErrorReply,
  parseMessages,
  sameBytes,
  sameMessages,
} from "./message.ts";

const fixture = (name: string) => Deno.readFileSync(new URL(`./testdata/${name}`, import.meta.url));

Deno.test("a message is a 16-byte host-order header and a payload padded to 4 bytes", () => {
  const bytes = encodeMessage(
    { type: 0x0601, flags: 0, payload: new Uint8Array([2, 0, 0, 0, 5, 0, 1, 0, 6]) },
    { flags: NLM_F_REQUEST | NLM_F_ACK, seq: 7, pid: 0x1234 },
  );
  assert.deepEqual([...bytes], [
    ...[25, 0, 0, 0, 0x01, 0x06, 5, 0, 7, 0, 0, 0, 0x34, 0x12, 0, 0],
    ...[2, 0, 0, 0, 5, 0, 1, 0, 6, 0, 0, 0],
  ]);
});

Deno.test("attributes are padded, strings end in NUL, and flags mark nesting and byte order", () => {
  const bytes = new AttributeWriter()
    .string(2, "ab")
    .u16(4, 80, { order: "flagged" })
    .u16(5, 80, { order: "net" })
    .nested(7, (inner) => inner.u32(1, 1))
    .bytes();
  assert.deepEqual([...bytes], [
    ...[7, 0, 2, 0, 0x61, 0x62, 0, 0],
    ...[6, 0, 4, 0x40, 0, 80, 0, 0],
    ...[6, 0, 5, 0, 0, 80, 0, 0],
    ...[12, 0, 7, 0x80, 8, 0, 1, 0, 1, 0, 0, 0],
  ]);
});

Deno.test("attributes read back with their flags, values in the order the flags say", () => {
  const bytes = new AttributeWriter().u16(4, 443, { order: "flagged" }).u16(5, 443, {
    order: "net",
  }).nested(7, (inner) => inner.u8(1, 6)).u32(8, 0xffffffff).bytes();
  const [flagged, net, nested, wide] = parseAttributes(bytes);
  assert.deepEqual([flagged.type, flagged.netByteOrder, attrU16(flagged)], [4, true, 443]);
  assert.deepEqual([net.netByteOrder, attrU16(net, true)], [false, 443]);
  assert.deepEqual([nested.type, nested.nested], [7, true]);
  assert.deepEqual(attrU8(parseAttributes(nested.data)[0]), 6);
  assert.deepEqual(attrU32(wide), 0xffffffff);
  assert.deepEqual(NLA_F_NESTED, 0x8000);
});

Deno.test("the kernel's acknowledgement of a new address is an error reply with errno 0", () => {
  const [ack] = parseMessages(fixture("rtnl_newaddr_ack.bin"));
  assert.deepEqual(ack.type, NLMSG_ERROR);
  assert.deepEqual(ack.flags & NLM_F_CAPPED, NLM_F_CAPPED);
  assert.deepEqual(parseErrorReply(ack), { errno: 0, seq: 1 });
});

Deno.test("an address added twice is refused with EEXIST and the kernel's extended-ack text", () => {
  const [error] = parseMessages(fixture("rtnl_newaddr_eexist.bin"));
  assert.deepEqual(parseErrorReply(error), {
    errno: 17,
    seq: 2,
    text: "ipv4: Address already assigned",
  });
});

Deno.test("ipset's protocol reply names the kernel's protocol range; a success ACK is capped", () => {
  const [reply, ack] = parseMessages(fixture("ipset_protocol_reply.bin"));
  assert.deepEqual(reply.type, 0x0601);
  const attributes = attributeMap(reply.payload.subarray(4));
  assert.deepEqual(attrU8(attributes.get(1)!), 7); // IPSET_ATTR_PROTOCOL: the kernel's version
  assert.deepEqual(attrU8(attributes.get(10)!), 6); // IPSET_ATTR_PROTOCOL_MIN
  assert.equal(ack.flags & NLM_F_CAPPED, NLM_F_CAPPED); // even without NETLINK_CAP_ACK
  assert.deepEqual(parseErrorReply(ack), { errno: 0, seq: 5 });
});

Deno.test("a link dump is multi-part messages ended by NLMSG_DONE with errno 0", () => {
  const messages = parseMessages(fixture("rtnl_getlink_dump.bin"));
  const done = messages.at(-1)!;
  assert.deepEqual(done.type, NLMSG_DONE);
  assert.deepEqual(doneErrno(done), 0);
  const links = messages.filter((m) => m.type === 16);
  assert.deepEqual(links.every((m) => (m.flags & NLM_F_MULTI) !== 0), true);
  const names = links.map((m) => attrString(attributeMap(m.payload.subarray(16)).get(3)!));
  assert.deepEqual(names, ["lo"]);
});

Deno.test("a message whose length runs past the datagram is refused, not read", () => {
  const bytes = fixture("rtnl_newaddr_ack.bin").slice(0, 20);
  assert.throws(
    () => parseMessages(bytes),
    (e) => e instanceof NetlinkParseError && /length 36/.test(e.message),
  );
});

Deno.test("bytes appended by an encoder are kept up to its length, and what it left past it is cleared", () => {
  const w = new AttributeWriter().u8(1, 9);
  const written = w.append(16, (buffer, _view, at) => {
    buffer.fill(0xee, at, at + 16); // scribbles on all the room it was given
    return 8;
  });
  assert.equal(written, 8);
  assert.equal(w.append(8, (buffer, _view, at) => (buffer[at] = 0xaa, -1)), -1);
  w.u8(2, 3); // its padding must be zeros, not the scribbles
  assert.deepEqual([...w.bytes()], [
    ...[5, 0, 1, 0, 9, 0, 0, 0],
    ...[0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee],
    ...[5, 0, 2, 0, 3, 0, 0, 0],
  ]);
});

Deno.test("bytes compare equal exactly when they are, at any length and alignment", () => {
  const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 255);
  const unaligned = new Uint8Array(301);
  unaligned.set(bytes, 1);
  for (const length of [0, 1, 31, 32, 33, 64, 103, 255, 256, 257, 300]) {
    const a = bytes.subarray(0, length);
    assert.ok(sameBytes(a, a.slice()), `aligned, ${length}`);
    assert.ok(sameBytes(a, unaligned.subarray(1, 1 + length)), `unaligned, ${length}`);
    for (const at of length === 0 ? [] : [0, length >> 1, length - 1]) {
      const changed = a.slice();
      changed[at] ^= 1;
      assert.ok(!sameBytes(a, changed), `byte ${at} of ${length}`);
    }
  }
  assert.ok(!sameBytes(bytes.subarray(0, 40), bytes.subarray(0, 41)));
});

Deno.test("dumps compare equal by their messages' types and payloads, not their headers", () => {
  const message = { type: 20, flags: 2, seq: 1, pid: 0, payload: new Uint8Array([1, 2, 3]) };
  const next = { ...message, seq: 2, payload: new Uint8Array([1, 2, 3]) };
  assert.ok(sameMessages([message], [next]));
  assert.ok(!sameMessages([message], [{ ...next, type: 21 }]));
  assert.ok(!sameMessages([message], [{ ...next, payload: new Uint8Array([1, 2, 4]) }]));
  assert.ok(!sameMessages([message], [message, next]));
});
