import {
  canonicalCidr,
  canonicalIp,
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isIanaSvcName,
  isLabelValue,
  isPortNumber,
  quote,
  specialIpReason,
  toProtocol,
} from "./validate.ts";
import { assertEquals } from "./test_helpers.ts";

/** Strings that must never pass as a name: whitespace, quotes, '#', control and non-ASCII. */
const HOSTILE = [
  "",
  "web\nevil",
  "web evil",
  'we"b',
  "we'b",
  "web#1",
  "wéb",
  "web\u2028x",
  "-web",
  "web-",
  "Web",
  "a".repeat(64),
];

Deno.test({
  name: "DNS-1123 labels accept Kubernetes namespaces and reject hostile strings",
  permissions: "none",
  fn() {
    for (const ok of ["default", "kube-system", "a", "0ab", "a".repeat(63)]) {
      assertEquals(isDns1123Label(ok), true, ok);
    }
    for (const bad of [...HOSTILE, "a.b"]) assertEquals(isDns1123Label(bad), false, bad);
  },
});

Deno.test({
  name: "DNS-1035 labels (Service names) must start with a letter",
  permissions: "none",
  fn() {
    assertEquals(isDns1035Label("kube-dns"), true);
    assertEquals(isDns1035Label("1web"), false);
    for (const bad of HOSTILE) assertEquals(isDns1035Label(bad), false, bad);
  },
});

Deno.test({
  name: "DNS-1123 subdomains allow dots and 253 characters, nothing hostile",
  permissions: "none",
  fn() {
    assertEquals(isDns1123Subdomain("node-a.example.com"), true);
    assertEquals(isDns1123Subdomain(`${"a".repeat(63)}.${"b".repeat(63)}`), true);
    assertEquals(isDns1123Subdomain("a".repeat(254)), false);
    for (const bad of [...HOSTILE.slice(0, 10), "a..b", ".a", "a."]) {
      assertEquals(isDns1123Subdomain(bad), false, bad);
    }
  },
});

Deno.test({
  name: "IANA service names (named target ports) need a letter and at most 15 characters",
  permissions: "none",
  fn() {
    for (const ok of ["http", "dns-tcp", "h2c", "a".repeat(15)]) {
      assertEquals(isIanaSvcName(ok), true, ok);
    }
    for (const bad of ["8080", "a".repeat(16), "a--b", "-http", "http-", "HTTP", "ht tp", ""]) {
      assertEquals(isIanaSvcName(bad), false, bad);
    }
  },
});

Deno.test({
  name: "label values allow upper case, dots and underscores but no spaces",
  permissions: "none",
  fn() {
    assertEquals(isLabelValue("My_svc.v1"), true);
    assertEquals(isLabelValue(""), true);
    for (const bad of ["a b", "a\nb", "_a", "a".repeat(64), "wéb"]) {
      assertEquals(isLabelValue(bad), false, bad);
    }
  },
});

Deno.test({
  name: "ports are integers from 1 to 65535 and protocols are TCP, UDP or SCTP",
  permissions: "none",
  fn() {
    assertEquals([1, 443, 65535].map(isPortNumber), [true, true, true]);
    assertEquals([0, 65536, 1.5, "80", null].map(isPortNumber), [
      false,
      false,
      false,
      false,
      false,
    ]);
    assertEquals(["TCP", "UDP", "SCTP", "tcp", "ICMP", "constructor"].map(toProtocol), [
      "tcp",
      "udp",
      "sctp",
      undefined,
      undefined,
      undefined,
    ]);
  },
});

Deno.test({
  name: "canonicalIp() compresses IPv6 and rejects forms Kubernetes would not accept",
  permissions: "none",
  fn() {
    assertEquals(canonicalIp("10.0.0.1"), "10.0.0.1");
    assertEquals(canonicalIp("FD00:10:96:0:0::5"), "fd00:10:96::5");
    for (
      const bad of [
        "010.0.0.1",
        "1.2.3",
        "1.2.3.256",
        "0x1.2.3.4",
        "::ffff:1.2.3.4",
        "::ffff:102:304",
        "fe80::1%eth0",
        " 10.0.0.1",
        "10.0.0.1\n",
        "",
      ]
    ) {
      assertEquals(canonicalIp(bad), undefined, bad);
    }
  },
});

Deno.test({
  name: "canonicalCidr() clears host bits and rejects bad prefixes",
  permissions: "none",
  fn() {
    assertEquals(canonicalCidr("192.168.3.4/16"), "192.168.0.0/16");
    assertEquals(canonicalCidr("fd00:0::1/64"), "fd00::/64");
    // Go reads a prefix length with leading zeros as decimal; so does the one shared parser.
    assertEquals(canonicalCidr("10.0.0.0/016"), "10.0.0.0/16");
    for (
      const bad of [
        "10.0.0.0/33",
        "10.0.0.0",
        "010.0.0.0/8",
        "fd00::/129",
        "10.0.0.0/8/8",
      ]
    ) {
      assertEquals(canonicalCidr(bad), undefined, bad);
    }
  },
});

Deno.test({
  name: "specialIpReason() refuses unspecified, loopback and link-local addresses",
  permissions: "none",
  fn() {
    for (
      const special of [
        "0.0.0.0",
        "127.0.0.1",
        "::1",
        "169.254.1.1",
        "fe80::1",
        "224.0.0.5",
        "ff02::1",
      ]
    ) {
      if (specialIpReason(special) === undefined) throw new Error(`${special} should be special`);
    }
    assertEquals(specialIpReason("192.0.2.50"), undefined);
    assertEquals(specialIpReason("239.1.1.1"), undefined);
  },
});

Deno.test({
  name: "quote() keeps a hostile value on one printable ASCII line",
  permissions: "none",
  fn() {
    assertEquals(quote("a\nb"), '"a\\nb"');
    assertEquals(quote('say "hi"'), '"say \\"hi\\""');
    assertEquals(quote("x\u2028y\u202ez"), '"x\\u2028y\\u202ez"');
    assertEquals(quote(70000), "70000");
    assertEquals(quote(undefined), "undefined");
    assertEquals(quote("a".repeat(500)).length < 220, true);
  },
});
