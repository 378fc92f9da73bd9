import assert from "node:assert/strict";
import ipaddr from "ipaddr.js";
import { canonicalIp } from "./ip.ts";

/** What the IPv4 path did before its fast path: ipaddr.js's own four-part check. */
function viaIpaddr(value: string): string | undefined {
  return ipaddr.IPv4.isValidFourPartDecimal(value)
    ? ipaddr.IPv4.parse(value).toString()
    : undefined;
}

Deno.test({
  name: "the IPv4 fast path agrees with ipaddr.js on every octet form",
  permissions: "none",
  fn() {
    const parts = [
      "0",
      "1",
      "9",
      "10",
      "99",
      "100",
      "199",
      "249",
      "250",
      "255",
      "256",
      "300",
      "01",
      "010",
      "00",
      "1e1",
      "0x1",
      "-1",
      "",
    ];
    for (const a of parts) {
      for (const b of ["0", "255", "256", "01"]) {
        const value = `${a}.${b}.7.${a}`;
        assert.equal(canonicalIp(value), viaIpaddr(value), value);
      }
    }
    for (const value of ["1.2.3", "1.2.3.4.5", "1.2.3.4 ", " 1.2.3.4", "1..2.3", "1.2.3.4\n"]) {
      assert.equal(canonicalIp(value), undefined, JSON.stringify(value));
    }
  },
});
