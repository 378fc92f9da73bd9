import assert from "node:assert/strict";
import fc from "fast-check";
import {
  failedLine,
  IpsetMessages,
  ipsetSubsystemAvailable,
  listedSets,
  ListedSetsDecoder,
} from "./ipset.ts";
import { entryText, IpsetEntryError, writeDataEntry, writeEntry } from "./ipset_entry.ts";
import { sortIpSets } from "../../src/state/keys.ts";
import { IPSET_CMD, IPSET_ERR, ipsetErrorName, ipsetErrorText } from "./ipset_errors.ts";
import {
  attributeMap,
  AttributeWriter,
  attrU8,
  type NetlinkMessage,
  NLMSG_DONE,
  NLMSG_ERROR,
  parseAttributes,
  parseErrorReply,
  parseMessages,
} from "./message.ts";

// Read when the module loads, so the tests themselves run without permissions.
const FIXTURES = new Map(
  ["ipset_adt_error_line3.bin", "ipset_list_reply.bin", "ipset_type_reply.bin"].map((
    name,
  ) => [name, Deno.readFileSync(new URL(`./testdata/${name}`, import.meta.url))]),
);
const fixture = (name: string) => FIXTURES.get(name)!;

Deno.test({
  name: "an ip,port entry is a nested network-order IPv4 address, a flagged port and a protocol",
  permissions: "none",
  fn() {
    const w = new AttributeWriter();
    writeEntry(w, "10.96.0.1,tcp:443", 1);
    assert.deepEqual([...w.bytes()], [
      ...[12, 0, 1, 0x80, 8, 0, 1, 0x40, 10, 96, 0, 1], // IP { IPADDR_IPV4 (net order) }
      ...[6, 0, 4, 0x40, 0x01, 0xbb, 0, 0], // PORT 443, network order, flagged
      ...[5, 0, 7, 0, 6, 0, 0, 0], // PROTO tcp
      ...[8, 0, 9, 0, 1, 0, 0, 0], // LINENO 1
    ]);
  },
});

Deno.test({
  name: "entries read back as ipset save prints them, a full-length prefix left out",
  permissions: "none",
  fn() {
    for (
      const entry of [
        "10.96.0.1,udp:53",
        "fd00::1,sctp:80,fd00::2",
        "1.2.3.4,tcp:80,10.0.0.0/8",
        "2001:db8::a:0:0:1",
        "30080",
      ]
    ) {
      const w = new AttributeWriter();
      writeEntry(w, entry, 1);
      assert.equal(entryText(w.bytes()), entry);
    }
    const w = new AttributeWriter();
    writeEntry(w, "1.2.3.4,tcp:80,10.1.2.3/32", 1);
    assert.equal(entryText(w.bytes()), "1.2.3.4,tcp:80,10.1.2.3");
  },
});

/** The bytes of one entry's DATA nest through `writeDataEntry`, or the error it threw. */
function dataEntryBytes(entry: string, lineno: number): number[] | string {
  try {
    const w = new AttributeWriter().u8(1, 7); // something before it, as in a message
    writeDataEntry(w, entry, lineno);
    return [...w.bytes()];
  } catch (error) {
    return (error as Error).message;
  }
}

/** The same through the attribute-by-attribute writer. */
function nestedEntryBytes(entry: string, lineno: number): number[] | string {
  try {
    const w = new AttributeWriter().u8(1, 7);
    w.nested(7, (data) => writeEntry(data, entry, lineno));
    return [...w.bytes()];
  } catch (error) {
    return (error as Error).message;
  }
}

// Mostly valid parts, so that most entries take the fast path and some fall back.
const octet = fc.oneof(
  { weight: 30, arbitrary: fc.integer({ min: 0, max: 255 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom("01", "256", "00") },
);
const ipv4 = fc.tuple(octet, octet, octet, octet).map((parts) => parts.join("."));
const prefix = fc.oneof(
  fc.constant(""),
  fc.integer({ min: 0, max: 33 }).map((n) => `/${n}`),
  fc.constantFrom("/", "/08", "/x", "/8/9"),
);
const address = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(ipv4, prefix).map(([ip, p]) => ip + p) },
  { weight: 1, arbitrary: fc.constantFrom("fd00::1", "10.0.0", "1.2.3.4.5", "") },
);
const protocolPort = fc.tuple(
  fc.constantFrom("tcp", "udp", "sctp", "tcp", "udp", "icmp", "TCP", ""),
  fc.oneof(
    { weight: 10, arbitrary: fc.integer({ min: 0, max: 70000 }).map(String) },
    { weight: 1, arbitrary: fc.constantFrom("", "080", "8a", "80:90") },
  ),
).map(([protocol, port]) => `${protocol}:${port}`);
const entryShapes = fc.oneof(
  fc.integer({ min: 0, max: 70000 }).map(String),
  address,
  fc.tuple(address, protocolPort).map((parts) => parts.join(",")),
  fc.tuple(address, protocolPort, address).map((parts) => parts.join(",")),
  fc.tuple(address, protocolPort, address, address).map((parts) => parts.join(",")),
  fc.string(),
);

Deno.test({
  name:
    "the fast entry writer writes exactly the bytes and errors of the attribute-by-attribute one",
  permissions: "none",
  fn() {
    for (
      const entry of [
        "10.96.0.1,tcp:443",
        "10.0.0.1,udp:53,10.0.0.1",
        "1.2.3.4,sctp:80,10.0.0.0/8",
        "10.0.0.0/8",
        "0.0.0.0/0",
        "30080",
        "fd00::1,tcp:80",
      ]
    ) assert.deepEqual(dataEntryBytes(entry, 3), nestedEntryBytes(entry, 3), entry);
    fc.assert(
      fc.property(entryShapes, fc.integer({ min: 1, max: 2000 }), (entry, lineno) => {
        assert.deepEqual(dataEntryBytes(entry, lineno), nestedEntryBytes(entry, lineno), entry);
      }),
      { numRuns: 5000 },
    );
  },
});

Deno.test({
  name: "a malformed entry is refused before anything is sent, with what is wrong",
  permissions: "none",
  fn() {
    for (
      const [entry, problem] of [
        ["10.0.0.1,icmp:8", "'icmp:8' is not tcp:PORT, udp:PORT or sctp:PORT"],
        ["10.0.0.1,tcp:70000", "'70000' is not a port"],
        ["10.0.0.1,tcp:80,fd00::1", "mixes IPv4 and IPv6"],
        ["10.0.0.300", "'10.0.0.300' is not an IP address"],
      ]
    ) {
      assert.throws(
        () => writeEntry(new AttributeWriter(), entry, 1),
        (e) => e instanceof IpsetEntryError && e.message.endsWith(problem),
      );
    }
    const messages = new IpsetMessages();
    assert.throws(
      () => messages.adt("add", "KUBE-X", ["10.0.0.1", "10.0.0.2", "nonsense"]),
      (e) => e instanceof IpsetEntryError && e.index === 2,
    );
  },
});

Deno.test({
  name: "many entries are cut into add messages whose ADT nest stays below 64 KiB",
  permissions: "none",
  fn() {
    const entries = Array.from({ length: 10_000 }, (_, i) => `10.2.${i >> 8}.${i & 255},udp:53`);
    const messages = new IpsetMessages().adt("add", "KUBE-CLUSTER-IP", entries);
    assert.ok(messages.length > 1 && messages.length < 15, `${messages.length} messages`);
    assert.equal(messages.reduce((n, m) => n + m.count, 0), 10_000);
    messages.forEach((m, i) => {
      assert.equal(m.first, messages.slice(0, i).reduce((n, p) => n + p.count, 0));
      assert.equal(m.request.type, (6 << 8) | IPSET_CMD.ADD);
      assert.equal(m.request.flags, 0, "-exist: no NLM_F_EXCL");
      const adt = attributeMap(m.request.payload.subarray(4)).get(8)!;
      assert.ok(adt.nested && adt.data.length < 65_535);
      assert.equal(parseAttributes(adt.data).length, m.count);
    });
  },
});

Deno.test({
  name: "the kernel names the refused entry of an add by writing its line into the copied request",
  permissions: "none",
  fn() {
    const [error] = parseMessages(fixture("ipset_adt_error_line3.bin"));
    assert.equal(error.type, NLMSG_ERROR);
    const reply = parseErrorReply(error);
    assert.equal(reply.errno, IPSET_ERR.PROTOCOL);
    assert.equal(failedLine(reply.request), 3);
  },
});

Deno.test({
  name: "a kernel's list reply decodes to the set as the exec backend reads ipset save",
  permissions: "none",
  fn() {
    const messages = parseMessages(fixture("ipset_list_reply.bin"));
    assert.equal(messages.at(-1)!.type, NLMSG_DONE);
    const sets = listedSets(messages.filter((m) => m.type !== NLMSG_DONE));
    assert.deepEqual(sets.map((s) => ({ ...s, entries: s.entries.toSorted() })), [{
      name: "KUBE-CLUSTER-IP",
      type: "hash:ip,port",
      family: "inet",
      comment: "",
      entries: ["10.96.0.1,tcp:443", "10.96.0.10,udp:53"],
    }]);
    assert.deepEqual(listedSets(messages.slice(0, -1), (name) => name !== "KUBE-CLUSTER-IP"), []);
  },
});

/** The fixture's list reply with its entry 10.96.0.1 turned into 10.96.0.2. */
function withEntryChanged(messages: readonly NetlinkMessage[]): NetlinkMessage[] {
  return messages.map((message) => {
    const payload = message.payload.slice();
    const at = payload.findIndex((_, i) =>
      payload[i] === 10 && payload[i + 1] === 96 && payload[i + 2] === 0 && payload[i + 3] === 1
    );
    if (at >= 0) payload[at + 3] = 2;
    return { ...message, payload };
  });
}

Deno.test({
  name: "a set whose bytes are the last dump's is not decoded again, and a changed one is",
  permissions: "none",
  fn() {
    const messages = parseMessages(fixture("ipset_list_reply.bin")).slice(0, -1);
    const decoder = new ListedSetsDecoder();
    const [first] = decoder.decode(messages);
    assert.deepEqual(first.entries, ["10.96.0.1,tcp:443", "10.96.0.10,udp:53"], "sorted");
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.entries), "kept, so frozen");
    // The same bytes in new buffers (a new dump): the decode is reused.
    const again = messages.map((m) => ({ ...m, payload: m.payload.slice() }));
    assert.equal(decoder.decode(again)[0], first);
    const [changed] = decoder.decode(withEntryChanged(messages));
    assert.deepEqual(changed.entries, ["10.96.0.10,udp:53", "10.96.0.2,tcp:443"]);
    assert.deepEqual(decoder.decode([]), [], "a set gone from the kernel is gone from the read");
    assert.notEqual(decoder.decode(messages)[0], first, "and decoded anew when it is back");
    assert.deepEqual(decoder.decode(messages, (name) => name !== "KUBE-CLUSTER-IP"), []);
  },
});

/** A LIST reply as the kernel sends it for a hash:ip,port set holding `entries`. */
function listReply(name: string, entries: readonly string[]): NetlinkMessage {
  const w = new AttributeWriter().u8(1, 7).string(2, name).string(3, "hash:ip,port").u8(4, 7);
  w.u8(5, 2).nested(8, (adt) => entries.forEach((entry, i) => writeDataEntry(adt, entry, i + 1)));
  const payload = new Uint8Array([2, 0, 0, 0, ...w.bytes()]);
  return { type: (6 << 8) | IPSET_CMD.LIST, flags: 2, seq: 1, pid: 0, payload };
}

Deno.test({
  name: "dump after dump, kept, patched and sorted sets read exactly as a fresh decode sorts them",
  permissions: "none",
  fn() {
    const pool = Array.from({ length: 600 }, (_, i) => `10.${i % 3}.${i >> 4}.${i & 15},tcp:${i}`);
    // Each dump toggles a few of the pool's entries in a set (now and then hundreds), in the
    // kernel's own order (not sorted), a set now and then gone.
    const toggles = fc.oneof(
      { weight: 5, arbitrary: fc.array(fc.nat(599), { maxLength: 6 }) },
      { weight: 1, arbitrary: fc.array(fc.nat(599), { minLength: 200, maxLength: 400 }) },
    );
    const order = fc.oneof(fc.constant(0), fc.nat());
    const step = fc.record({ set: fc.nat(1), toggles, order, present: fc.nat(7) });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 8 }), (steps) => {
        const decoder = new ListedSetsDecoder();
        const sets = [new Set<string>(), new Set<string>(pool.slice(0, 300))];
        for (const { set, toggles, order, present } of steps) {
          for (const i of toggles) {
            if (!sets[set].delete(pool[i])) sets[set].add(pool[i]);
          }
          const messages = sets.filter((_, i) => present > 0 || i !== set).map((entries, i) => {
            const listed = [...entries];
            const turn = listed.length === 0 ? 0 : order % listed.length;
            return listReply(`KUBE-${i}`, [...listed.slice(turn), ...listed.slice(0, turn)]);
          });
          assert.deepEqual(decoder.decode(messages), sortIpSets(listedSets(messages)));
        }
      }),
      { numRuns: 300 },
    );
  },
});

Deno.test({
  name: "one entry removed and one added are patched into the kept sorted entries",
  permissions: "none",
  fn() {
    const entries = Array.from({ length: 1000 }, (_, i) => `10.1.${i >> 8}.${i & 255},tcp:80`);
    const decoder = new ListedSetsDecoder();
    decoder.decode([listReply("KUBE-LOOP-BACK", entries)]);
    const moved = [...entries.slice(1), "10.0.0.1,tcp:80"]; // the others where they were
    const [set] = decoder.decode([listReply("KUBE-LOOP-BACK", moved)]);
    assert.deepEqual(set.entries, [...moved].sort());
    assert.equal(set.entries[0], "10.0.0.1,tcp:80");
    assert.ok(!set.entries.includes(entries[0]));
  },
});

Deno.test({
  name: "the kernel's type reply names the newest revision of hash:ip,port",
  permissions: "none",
  fn() {
    const [reply] = parseMessages(fixture("ipset_type_reply.bin"));
    const attributes = attributeMap(reply.payload.subarray(4));
    assert.equal(attrU8(attributes.get(4)!), 7); // IPSET_ATTR_REVISION
    assert.equal(attrU8(attributes.get(10)!), 0); // IPSET_ATTR_REVISION_MIN
  },
});

Deno.test({
  name: "ipset's error codes read as the ipset tool prints them, per command and set type",
  permissions: "none",
  fn() {
    assert.equal(
      ipsetErrorText(IPSET_ERR.EXIST, IPSET_CMD.ADD),
      "Element cannot be added to the set: it's already added",
    );
    assert.equal(
      ipsetErrorText(IPSET_ERR.EXIST, IPSET_CMD.DEL),
      "Element cannot be deleted from the set: it's not added",
    );
    assert.equal(
      ipsetErrorText(17, IPSET_CMD.CREATE),
      "Set cannot be created: set with the same name already exists",
    );
    assert.equal(ipsetErrorText(17, IPSET_CMD.ADD), undefined);
    assert.equal(
      ipsetErrorText(4352, IPSET_CMD.ADD, "hash:ip"),
      "Hash is full, cannot add more elements",
    );
    assert.equal(
      ipsetErrorText(4352, IPSET_CMD.ADD, "bitmap:port"),
      "Element is out of the range of the set",
    );
    assert.equal(ipsetErrorText(4999, IPSET_CMD.ADD), "ipset error code 4999");
    assert.equal(ipsetErrorName(IPSET_ERR.TYPE_MISMATCH), "IPSET_ERR_TYPE_MISMATCH");
  },
});

Deno.test({
  name: "sets are created as the exec backend's restore lines create them, with -exist",
  permissions: "none",
  fn() {
    const messages = new IpsetMessages();
    const hash = messages.create(
      { name: "KUBE-6-CLUSTER-IP", type: "hash:ip,port", family: "inet6" },
      "KUBE-6-CLUSTER-IP",
      7,
    );
    assert.equal(hash.flags, 0);
    const top = attributeMap(hash.payload.subarray(4));
    assert.equal(attrU8(top.get(5)!), 10); // NFPROTO_IPV6
    const data = attributeMap(top.get(7)!.data);
    assert.deepEqual([...data.get(18)!.data], [0, 0, 4, 0]); // hashsize 1024, network order
    assert.deepEqual([...data.get(19)!.data], [0, 1, 0, 0]); // maxelem 65536
    const bitmap = messages.create(
      { name: "KUBE-NODE-PORT-TCP", type: "bitmap:port", family: "inet" },
      "KUBE-NODE-PORT-TCP",
      3,
    );
    const range = attributeMap(attributeMap(bitmap.payload.subarray(4)).get(7)!.data);
    assert.deepEqual([...range.get(4)!.data, ...range.get(5)!.data], [0, 0, 0xff, 0xff]);
    assert.equal(messages.named(IPSET_CMD.DESTROY, "KUBE-X").flags, 0x200, "no -exist");
  },
});

Deno.test({
  name: "the ipset subsystem is found where the kernel answers its handshake (this machine's)",
  permissions: { ffi: true, read: true },
  async fn() {
    // The handshake only asks for the protocol version: it changes nothing on the host.
    assert.equal(await ipsetSubsystemAvailable(), true);
  },
});
