import assert from "node:assert/strict";
import {
  be16,
  decodeFamily,
  decodeGenl,
  encodeAttributes,
  encodeGenl,
  encodeGetFamily,
  NLA_F_NESTED,
  nulString,
  parseAttributes,
  readBe16,
  readString,
  readU16,
  readU32,
  u16,
  u32,
  u8,
} from "./genl.ts";

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.trim().split(/\s+/).map((b) => parseInt(b, 16)));
}

Deno.test({
  name: "GETFAMILY for IPVS is the genl header then the NUL-terminated name padded to 4 bytes",
  permissions: "none",
  fn() {
    assert.deepEqual(
      hex(encodeGetFamily("IPVS")),
      "03 01 00 00 09 00 02 00 49 50 56 53 00 00 00 00",
    );
  },
});

Deno.test({
  name: "attributes are padded to 4 bytes and nests carry their own length",
  permissions: "none",
  fn() {
    const bytes = encodeAttributes([
      u8(1, 7),
      { type: 2, nested: [u16(1, 0x0102), u32(2, 5)] },
      { type: 3, nested: [], flagNested: true },
    ]);
    assert.deepEqual(
      hex(bytes),
      "05 00 01 00 07 00 00 00 " + // u8 and 3 pad bytes
        "14 00 02 00 06 00 01 00 02 01 00 00 08 00 02 00 05 00 00 00 " +
        "04 00 03 80",
    );
    const top = parseAttributes(bytes);
    assert.deepEqual(top.get(1), Uint8Array.of(7));
    assert.deepEqual(readU16(parseAttributes(top.get(2)!).get(1), "inner"), 0x0102);
    assert.deepEqual(top.get(3 | NLA_F_NESTED), undefined, "the flag is masked off the type");
    assert.deepEqual(top.get(3), new Uint8Array(0));
  },
});

Deno.test({
  name: "value codecs read back what they write, ports in network order",
  permissions: "none",
  fn() {
    assert.deepEqual(hex(be16(4, 80).data), "00 50");
    assert.deepEqual(readBe16(be16(4, 8080).data, "port"), 8080);
    assert.deepEqual(readU32(u32(1, 0xffffffff).data, "mask"), 0xffffffff);
    assert.deepEqual(readString(nulString(6, "rr").data, "sched"), "rr");
    assert.deepEqual(readString(Uint8Array.of(0x72, 0x72), "sched without NUL"), "rr");
  },
});

Deno.test({
  name: "a truncated attribute or a missing value is an error that says where",
  permissions: "none",
  fn() {
    assert.throws(() => parseAttributes(fromHex("08 00 01 00 01 00")), /at byte 0: length 8/);
    assert.throws(() => readU32(Uint8Array.of(1, 2), "IPVS_SVC_ATTR_TIMEOUT"), /expected 4 bytes/);
    assert.throws(() => readU16(undefined, "IPVS_SVC_ATTR_AF"), /IPVS_SVC_ATTR_AF: .*none/);
    assert.throws(() => decodeGenl(Uint8Array.of(1)), /needs 4 bytes/);
  },
});

Deno.test({
  name: "the controller's NEWFAMILY reply gives the family id, name, version and attribute count",
  permissions: "none",
  fn() {
    // The start of the kernel's reply for IPVS (ops and multicast groups left out).
    const reply = encodeGenl(1, 2, [
      u16(1, 0x24),
      nulString(2, "IPVS"),
      u32(3, 1),
      u32(4, 0),
      u32(5, 6),
      { type: 6, nested: [{ type: 1, nested: [u32(1, 1), u32(2, 0x0e)] }] },
    ]);
    assert.deepEqual(decodeFamily(reply), { id: 0x24, name: "IPVS", version: 1, maxAttribute: 6 });
    assert.throws(() => decodeFamily(encodeGenl(2, 1, [])), /CTRL_CMD_NEWFAMILY/);
  },
});
