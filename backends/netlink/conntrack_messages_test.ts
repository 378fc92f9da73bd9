import assert from "node:assert/strict";
import {
  addressBytes,
  addressText,
  CTA,
  decodeEntry,
  decodeTuple,
  deleteRequest,
  dumpRequest,
  tupleText,
  udpEntries,
  udpFlowOf,
} from "./conntrack_messages.ts";
import { attributeMap, attrU16, attrU32, parseMessages } from "./message.ts";

// Captured by tests/exec/in_namespace/netlink_conntrack_test.ts (CAPTURE_CONNTRACK_FIXTURES=1)
// from flows made with conntrack -I; read when the module loads, so the tests need no
// permissions.
const DUMP_IPV4 = parseMessages(
  Deno.readFileSync(new URL("./testdata/conntrack_dump_ipv4.bin", import.meta.url)),
);
const DUMP_IPV6 = parseMessages(
  Deno.readFileSync(new URL("./testdata/conntrack_dump_ipv6.bin", import.meta.url)),
);

const bytes = (text: string) => addressBytes(text, text.includes(":") ? "ipv6" : "ipv4")!;

Deno.test({
  name: "the kernel's IPv4 dump gives its UDP flows, in every zone, and not the TCP one",
  permissions: "none",
  fn() {
    assert.equal(DUMP_IPV4.length, 3);
    assert.deepEqual(udpEntries(DUMP_IPV4, "ipv4").map(udpFlowOf), [
      { family: "ipv4", origDst: "10.96.0.10", origDstPort: 53, replySrc: "10.244.1.2" },
      { family: "ipv4", origDst: "10.96.0.10", origDstPort: 53, replySrc: "10.244.1.3" },
    ]);
    const tcp = decodeEntry(DUMP_IPV4[0])!;
    assert.equal(tcp.orig.protocol, 6);
  },
});

Deno.test({
  name: "a dumped flow keeps its whole original tuple, its zone and its id",
  permissions: "none",
  fn() {
    const [plain, zoned] = udpEntries(DUMP_IPV4, "ipv4");
    assert.deepEqual(plain.orig, {
      src: bytes("10.0.0.5"),
      dst: bytes("10.96.0.10"),
      protocol: 17,
      srcPort: 40000,
      dstPort: 53,
    });
    assert.deepEqual(plain.reply.dst, bytes("10.0.0.5"));
    assert.equal(plain.reply.srcPort, 53);
    assert.equal(plain.zone, undefined);
    assert.equal(zoned.zone, 7);
    assert.ok(Number.isInteger(plain.id) && plain.id !== zoned.id, "ids differ per flow");
  },
});

Deno.test({
  name: "the kernel's IPv6 dump reads with the conntrack tool's address texts",
  permissions: "none",
  fn() {
    assert.deepEqual(udpEntries(DUMP_IPV6, "ipv6").map(udpFlowOf), [
      { family: "ipv6", origDst: "fd00:96::a", origDstPort: 53, replySrc: "fd00:244::2" },
      { family: "ipv6", origDst: "::ffff:10.1.2.3", origDstPort: 53, replySrc: "::0.2.0.3" },
    ]);
  },
});

Deno.test({
  name: "flows of another family than the one asked for are left out",
  permissions: "none",
  fn() {
    assert.deepEqual(udpEntries(DUMP_IPV4, "ipv6"), []);
    assert.deepEqual(udpEntries(DUMP_IPV6, "ipv4"), []);
  },
});

Deno.test({
  name: "a message that is not a flow is not read as one",
  permissions: "none",
  fn() {
    assert.equal(decodeEntry({ ...DUMP_IPV4[1], type: 3 }), undefined);
    const payload = DUMP_IPV4[1].payload.slice();
    payload[0] = 7; // not AF_INET nor AF_INET6
    assert.equal(decodeEntry({ ...DUMP_IPV4[1], payload }), undefined);
  },
});

Deno.test({
  name: "a dump request asks for one family's flows",
  permissions: "none",
  fn() {
    assert.deepEqual(dumpRequest("ipv4"), {
      type: 0x101,
      flags: 0,
      payload: new Uint8Array([2, 0, 0, 0]),
    });
    assert.deepEqual(dumpRequest("ipv6").payload, new Uint8Array([10, 0, 0, 0]));
  },
});

Deno.test({
  name: "a delete carries the original tuple exactly as the kernel dumped it, its zone and id",
  permissions: "none",
  fn() {
    for (const message of [...DUMP_IPV4.slice(1), ...DUMP_IPV6]) {
      const entry = decodeEntry(message)!;
      const request = deleteRequest(entry);
      assert.equal(request.type, 0x102);
      assert.deepEqual(request.payload.subarray(0, 4), message.payload.subarray(0, 4));
      const sent = attributeMap(request.payload.subarray(4));
      const dumped = attributeMap(message.payload.subarray(4));
      assert.deepEqual(sent.get(CTA.TUPLE_ORIG)!.data, dumped.get(CTA.TUPLE_ORIG)!.data);
      assert.equal(attrU32(sent.get(CTA.ID)!, true), entry.id);
      assert.equal(sent.has(CTA.ZONE), entry.zone !== undefined);
      if (entry.zone !== undefined) assert.equal(attrU16(sent.get(CTA.ZONE)!, true), entry.zone);
      // Nothing is sent that the kernel did not dump itself.
      assert.ok([...sent.keys()].every((k) => dumped.has(k)), [...sent.keys()].join(","));
    }
  },
});

Deno.test({
  name: "a tuple zone of one direction is written back into the tuple",
  permissions: "none",
  fn() {
    const [entry] = udpEntries(DUMP_IPV4, "ipv4");
    const zoned = { ...entry, orig: { ...entry.orig, zone: 9 } };
    const sent = attributeMap(deleteRequest(zoned).payload.subarray(4));
    assert.deepEqual(decodeTuple(sent.get(CTA.TUPLE_ORIG)!, "ipv4"), zoned.orig);
  },
});

Deno.test({
  name: "addresses read as glibc's inet_ntop writes them",
  permissions: "none",
  fn() {
    const cases: [string, string][] = [
      ["10.96.0.10", "10.96.0.10"],
      ["0:0:0:0:0:0:0:0", "::"],
      ["0:0:0:0:0:0:0:1", "::1"],
      ["fd00:0:0:0:0:0:0:1", "fd00::1"],
      ["1:0:0:0:0:0:0:0", "1::"],
      ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"],
      ["1:0:0:2:0:0:3:4", "1::2:0:0:3:4"],
      ["1:0:0:2:0:0:0:4", "1:0:0:2::4"],
      ["FD00:96:0:0:0:0:0:A", "fd00:96::a"],
      ["::ffff:10.1.2.3", "::ffff:10.1.2.3"],
      ["::ffff:0:0", "::ffff:0.0.0.0"],
      ["::2:3", "::0.2.0.3"],
      ["::1:ffff:10.1.2.3", "::1:ffff:a01:203"],
      ["64:ff9b::10.1.2.3", "64:ff9b::a01:203"],
    ];
    for (const [input, text] of cases) assert.equal(addressText(bytes(input)), text, input);
  },
});

Deno.test({
  name: "only addresses inet_pton takes for the family are read",
  permissions: "none",
  fn() {
    assert.deepEqual(addressBytes("10.0.0.1", "ipv4"), new Uint8Array([10, 0, 0, 1]));
    for (const text of ["01.2.3.4", "10.0.0", "256.0.0.1", "fd00::1", ""]) {
      assert.equal(addressBytes(text, "ipv4"), undefined, text);
    }
    const ipv6 = (text: string) => Array.from(addressBytes(text, "ipv6") ?? []).join(",");
    assert.equal(ipv6("::0.2.0.3"), "0,0,0,0,0,0,0,0,0,0,0,0,0,2,0,3", "compatible, not mapped");
    assert.equal(ipv6("::ffff:10.1.2.3"), "0,0,0,0,0,0,0,0,0,0,255,255,10,1,2,3");
    assert.equal(ipv6("1:2:3:4:5:6:7:8"), "0,1,0,2,0,3,0,4,0,5,0,6,0,7,0,8");
    assert.equal(ipv6("1:2:3:4:5:6:1.2.3.4"), "0,1,0,2,0,3,0,4,0,5,0,6,1,2,3,4");
    assert.equal(ipv6("1:2:3:4:5:6:7::"), "0,1,0,2,0,3,0,4,0,5,0,6,0,7,0,0");
    const invalid = ["10.0.0.1", "fe80::1%eth0", "fd00::g", "", ":", ":::", "1::2::3", "1:2"];
    invalid.push("1:2:3:4:5:6:7:8::", "1:2:3:4:5:6:7:8:9", "::1.2.3.4:5", "12345::", "::1.2.3");
    for (const text of invalid) {
      assert.equal(addressBytes(text, "ipv6"), undefined, text);
    }
  },
});

Deno.test({
  name: "a tuple reads as source and destination with their ports, IPv6 in brackets",
  permissions: "none",
  fn() {
    assert.equal(
      tupleText(udpEntries(DUMP_IPV4, "ipv4")[0].orig),
      "10.0.0.5:40000 -> 10.96.0.10:53",
    );
    assert.equal(
      tupleText(udpEntries(DUMP_IPV6, "ipv6")[1].orig),
      "[fd00::5]:40000 -> [::ffff:10.1.2.3]:53",
    );
  },
});
