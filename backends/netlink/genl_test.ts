import assert from "node:assert/strict";
import { AttributeWriter } from "./message.ts";
import { decodeFamily, decodeGenl, encodeGenl, encodeGetFamily, GenlParseError } from "./genl.ts";

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

Deno.test({
  name: "GETFAMILY for IPVS is the genl header then the NUL-terminated name padded to 4 bytes",
  permissions: "none",
  fn() {
    assert.equal(
      hex(encodeGetFamily("IPVS")),
      "03 01 00 00 09 00 02 00 49 50 56 53 00 00 00 00",
    );
  },
});

Deno.test({
  name: "a genl payload splits into command, version and the attributes after the header",
  permissions: "none",
  fn() {
    const payload = encodeGenl(15, 1, Uint8Array.of(8, 0, 1, 0, 1, 2, 1, 0));
    assert.deepEqual(decodeGenl(payload), {
      cmd: 15,
      version: 1,
      attributes: Uint8Array.of(8, 0, 1, 0, 1, 2, 1, 0),
    });
    assert.throws(() => decodeGenl(Uint8Array.of(1)), GenlParseError);
  },
});

Deno.test({
  name: "the controller's NEWFAMILY reply gives the family id, name, version and attribute count",
  permissions: "none",
  fn() {
    // The start of the kernel's reply for IPVS; its ops and multicast groups are skipped.
    const reply = encodeGenl(
      1,
      2,
      new AttributeWriter().u16(1, 0x24).string(2, "IPVS").u32(3, 1).u32(4, 0).u32(5, 6)
        .nested(6, (ops) => ops.nested(1, (op) => op.u32(1, 1).u32(2, 0x0e))).bytes(),
    );
    assert.deepEqual(decodeFamily(reply), { id: 0x24, name: "IPVS", version: 1, maxAttribute: 6 });
    assert.throws(() => decodeFamily(encodeGenl(2, 1)), /CTRL_CMD_NEWFAMILY/);
    assert.throws(
      () => decodeFamily(encodeGenl(1, 2, new AttributeWriter().string(2, "IPVS").bytes())),
      /CTRL_ATTR_FAMILY_ID is missing/,
    );
  },
});
