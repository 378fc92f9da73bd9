import { assertEquals, assertThrows } from "./test_helpers.ts";
import { ConfigError } from "./errors.ts";
import {
  canonicalCidr,
  canonicalIp,
  readBindAddress,
  readClusterCidrs,
  readNodePortAddresses,
  splitCommaList,
} from "./values.ts";

const FILE = { file: "x.yaml", field: "f" };

function test(name: string, fn: () => void): void {
  Deno.test({ name, permissions: "none", fn });
}

test("canonicalCidr() clears host bits and compresses IPv6", () => {
  assertEquals(canonicalCidr("10.244.1.5/16"), "10.244.0.0/16");
  assertEquals(canonicalCidr("192.0.2.0/24"), "192.0.2.0/24");
  assertEquals(canonicalCidr("FD00:10:244:0:0:0:0:0/56"), "fd00:10:244::/56");
  assertEquals(canonicalCidr("0.0.0.0/0"), "0.0.0.0/0");
  assertEquals(canonicalCidr("::/0"), "::/0");
});

test("canonicalCidr() writes a prefix length with leading zeros in decimal, as Go reads it", () => {
  assertEquals(canonicalCidr("10.244.0.0/016"), "10.244.0.0/16");
  assertEquals(canonicalCidr("10.0.0.0/08"), "10.0.0.0/8");
  assertEquals(canonicalCidr("fd00:10:244::/056"), "fd00:10:244::/56");
});

test("canonicalCidr() rejects addresses without a prefix, bad prefixes and octal forms", () => {
  for (const text of ["10.0.0.0", "10.0.0.0/33", "fd00::/129", "010.0.0.0/8", "10.0/8", "x/8"]) {
    assertEquals(canonicalCidr(text), undefined, text);
  }
  assertEquals(canonicalCidr("10.0.0.0/"), undefined);
  assertEquals(canonicalCidr("fe80::1%eth0/64"), undefined);
});

test("canonicalIp() accepts dotted-decimal IPv4 and any IPv6 spelling", () => {
  assertEquals(canonicalIp("192.168.0.1"), "192.168.0.1");
  assertEquals(canonicalIp("FD00:0:0::0010"), "fd00::10");
  assertEquals(canonicalIp("1.2.3"), undefined);
  assertEquals(canonicalIp("node-a"), undefined);
});

test("splitCommaList() trims items and drops empty ones", () => {
  assertEquals(splitCommaList(" a, b,,c ,"), ["a", "b", "c"]);
  assertEquals(splitCommaList(""), []);
});

test("readClusterCidrs() reads one CIDR, a dual-stack pair, or nothing", () => {
  assertEquals(readClusterCidrs("10.244.0.0/16", FILE), ["10.244.0.0/16"]);
  assertEquals(readClusterCidrs("fd00::/56, 10.244.0.0/16", FILE), [
    "fd00::/56",
    "10.244.0.0/16",
  ]);
  assertEquals(readClusterCidrs("", FILE), []);
  assertThrows(() => readClusterCidrs("fd00::/56,fd01::/56", FILE), ConfigError, "at most one");
});

test("readNodePortAddresses() accepts CIDRs or 'primary' alone", () => {
  assertEquals(readNodePortAddresses(["primary"], ["primary"], FILE), ["primary"]);
  assertEquals(readNodePortAddresses(["10.0.0.0/8"], ["10.0.0.0/8"], FILE), ["10.0.0.0/8"]);
  assertThrows(
    () => readNodePortAddresses(["primary", "10.0.0.0/8"], "primary,10.0.0.0/8", FILE),
    ConfigError,
    '"primary" cannot be combined with CIDRs',
  );
});

test("readBindAddress() appends the default port and brackets IPv6", () => {
  assertEquals(readBindAddress("", FILE, "0.0.0.0:10256"), "0.0.0.0:10256");
  assertEquals(readBindAddress("10.0.0.1", FILE, "0.0.0.0:10256"), "10.0.0.1:10256");
  assertEquals(readBindAddress("::", FILE, "0.0.0.0:10256"), "[::]:10256");
  assertEquals(readBindAddress("[::1]", FILE, "0.0.0.0:10256"), "[::1]:10256");
  assertEquals(readBindAddress("[FD00::1]:80", FILE, "0.0.0.0:10256"), "[fd00::1]:80");
  assertEquals(readBindAddress("127.0.0.1:0", FILE, "0.0.0.0:10256"), "127.0.0.1:0");
  for (const bad of ["localhost:80", "10.0.0.1:http", "10.0.0.1:70000", "[::1]x"]) {
    assertThrows(() => readBindAddress(bad, FILE, "0.0.0.0:10256"), ConfigError, bad);
  }
});
