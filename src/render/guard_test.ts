import assert from "node:assert/strict";
import { RenderError, safeInteger, safeRule, safeToken } from "./guard.ts";

Deno.test({
  name: "safeToken() passes addresses, set names and entries through unchanged",
  permissions: "none",
  fn() {
    for (
      const value of ["10.0.0.1", "[fd00::1]:80", "KUBE-CLUSTER-IP", "10.0.0.1,tcp:443", "mh-port"]
    ) {
      assert.equal(safeToken(value, "value"), value);
    }
  },
});

Deno.test({
  name: "safeToken() rejects whitespace, control characters, quotes, '#' and non-ASCII",
  permissions: "none",
  fn() {
    const bad = [
      "",
      "a b",
      "a\nadd X 1",
      "a\tb",
      "a\x00",
      "a\x7f",
      'a"b',
      "a'b",
      "a`b",
      "a#b",
      "é",
      "a\\b",
    ];
    for (const value of bad) {
      assert.throws(() => safeToken(value, "ipset entry"), RenderError, JSON.stringify(value));
    }
  },
});

Deno.test({
  name: "a RenderError names what was rendered, quotes the value and says why",
  permissions: "none",
  fn() {
    assert.throws(
      () => safeToken("10.0.0.1\n-D -t 1.2.3.4:1", "virtual server address"),
      (e: unknown) =>
        e instanceof RenderError &&
        e.message ===
          'Cannot render virtual server address "10.0.0.1\\n-D -t 1.2.3.4:1": it contains whitespace' &&
        e.what === "virtual server address",
    );
  },
});

Deno.test({
  name: "safeInteger() accepts integers in range only",
  permissions: "none",
  fn() {
    assert.equal(safeInteger(443, 0, 65535, "port"), "443");
    for (const bad of [-1, 65536, 1.5, NaN, Infinity]) {
      assert.throws(() => safeInteger(bad, 0, 65535, "port"), RenderError);
    }
  },
});

Deno.test({
  name: "safeRule() accepts iptables-save rules with quoted comments",
  permissions: "none",
  fn() {
    const rule = '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES';
    assert.equal(safeRule(rule, "rule"), rule);
    assert.equal(
      safeRule("! -s 10.244.0.0/16 -j KUBE-MARK-MASQ", "rule"),
      "! -s 10.244.0.0/16 -j KUBE-MARK-MASQ",
    );
    // iptables-save prints a single quote inside a comment as \'.
    const sctp = "-m comment --comment \"type \\'hash ip:port\\'\" -j RETURN";
    assert.equal(safeRule(sctp, "rule"), sctp);
  },
});

Deno.test({
  name: "safeRule() rejects new lines, unbalanced or escaped quotes and double spaces",
  permissions: "none",
  fn() {
    const bad = [
      "-j ACCEPT\n-A INPUT -j DROP",
      '-m comment --comment "open -j ACCEPT',
      '-m comment --comment "a\\" b" -j ACCEPT',
      "-j  ACCEPT",
      "-j ACCEPT # comment",
      '--comment "it\'s" -j ACCEPT',
      '--comment "ends in \\\\" -j ACCEPT',
      '--comment "a \\" -j ACCEPT',
      "",
    ];
    for (const rule of bad) assert.throws(() => safeRule(rule, "rule"), RenderError, rule);
  },
});
