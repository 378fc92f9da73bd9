import assert from "node:assert/strict";
import { RenderError } from "./guard.ts";
import { parseIpsetSave, renderIpsetRestore, temporarySetName } from "./ipset.ts";
import { ParseError } from "./parse_error.ts";

Deno.test({
  name: "each set operation renders as ipset restore lines with -exist where it applies",
  permissions: "none",
  fn() {
    const text = renderIpsetRestore([
      {
        op: "ipset.create",
        set: { name: "KUBE-CLUSTER-IP", type: "hash:ip,port", family: "inet" },
      },
      {
        op: "ipset.create",
        set: { name: "KUBE-NODE-PORT-TCP", type: "bitmap:port", family: "inet" },
      },
      { op: "ipset.add", set: "KUBE-CLUSTER-IP", entry: "10.0.0.1,tcp:443" },
      { op: "ipset.del", set: "KUBE-6-CLUSTER-IP", entry: "fd00::1,udp:53" },
      { op: "ipset.destroy", set: "KUBE-OLD" },
    ]);
    assert.equal(
      text,
      [
        "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 -exist",
        "create KUBE-NODE-PORT-TCP bitmap:port range 0-65535 -exist",
        "add KUBE-CLUSTER-IP 10.0.0.1,tcp:443 -exist",
        "del KUBE-6-CLUSTER-IP fd00::1,udp:53 -exist",
        "destroy KUBE-OLD",
        "",
      ].join("\n"),
    );
  },
});

Deno.test({
  name: "ipset.replace fills a flushed temporary set and swaps it in",
  permissions: "none",
  fn() {
    const text = renderIpsetRestore([{
      op: "ipset.replace",
      set: { name: "KUBE-6-LOOP-BACK", type: "hash:ip,port,ip", family: "inet6" },
      entries: ["fd00::5,tcp:80,fd00::5"],
    }]);
    assert.equal(
      text,
      [
        "create KUBE-6-LOOP-BACK-TMP hash:ip,port,ip family inet6 hashsize 1024 maxelem 65536 -exist",
        "flush KUBE-6-LOOP-BACK-TMP",
        "add KUBE-6-LOOP-BACK-TMP fd00::5,tcp:80,fd00::5 -exist",
        "swap KUBE-6-LOOP-BACK-TMP KUBE-6-LOOP-BACK",
        "destroy KUBE-6-LOOP-BACK-TMP",
        "",
      ].join("\n"),
    );
  },
});

Deno.test({
  name: "temporary set names stay within 31 characters, KUBE- prefixed and distinct",
  permissions: "none",
  fn() {
    const long = ["KUBE-6-LOAD-BALANCER-SOURCE-CIDR", "KUBE-6-LOAD-BALANCER-SOURCE-IP"].map((n) =>
      n.slice(0, 31)
    );
    const names = long.map(temporarySetName);
    for (const name of names) {
      assert.ok(name.length <= 31 && name.startsWith("KUBE-") && name.endsWith("-TMP"), name);
    }
    assert.notEqual(names[0], names[1]);
    assert.equal(temporarySetName("KUBE-CLUSTER-IP"), "KUBE-CLUSTER-IP-TMP");
  },
});

Deno.test({
  name: "set names over 31 characters and entries that could add a line are refused",
  permissions: "none",
  fn() {
    assert.throws(
      () => renderIpsetRestore([{ op: "ipset.destroy", set: "KUBE-" + "X".repeat(27) }]),
      RenderError,
    );
    assert.throws(
      () =>
        renderIpsetRestore([{
          op: "ipset.add",
          set: "KUBE-CLUSTER-IP",
          entry: "1.1.1.1\nflush KUBE-CLUSTER-IP",
        }]),
      RenderError,
    );
  },
});

Deno.test({
  name: "parseIpsetSave() reads ipset save output: headers, families and entries",
  permissions: "none",
  fn() {
    const text = [
      "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 comment bucketsize 12 initval 0x6d5d2a1e",
      'add KUBE-CLUSTER-IP 10.0.0.1,tcp:443 comment "default/kubernetes:https"',
      "add KUBE-CLUSTER-IP 10.0.0.10,udp:53",
      "create KUBE-NODE-PORT-TCP bitmap:port range 0-65535",
      "add KUBE-NODE-PORT-TCP 30080",
      "create KUBE-6-NODE-PORT-TCP bitmap:port range 0-65535",
      "create cni-other hash:net family inet6 hashsize 1024 maxelem 65536",
      "",
    ].join("\n");
    assert.deepEqual(parseIpsetSave(text), [
      {
        name: "KUBE-CLUSTER-IP",
        type: "hash:ip,port",
        family: "inet",
        comment: "",
        entries: ["10.0.0.1,tcp:443", "10.0.0.10,udp:53"],
      },
      {
        name: "KUBE-NODE-PORT-TCP",
        type: "bitmap:port",
        family: "inet",
        comment: "",
        entries: ["30080"],
      },
      {
        name: "KUBE-6-NODE-PORT-TCP",
        type: "bitmap:port",
        family: "inet6",
        comment: "",
        entries: [],
      },
      { name: "cni-other", type: "hash:net", family: "inet6", comment: "", entries: [] },
    ]);
  },
});

Deno.test({
  name: "parseIpsetSave() names the line it cannot read",
  permissions: "none",
  fn() {
    assert.throws(() => parseIpsetSave("add KUBE-X 1.1.1.1\n"), ParseError);
    assert.throws(
      () => parseIpsetSave("create A hash:ip family inet\nbogus\n"),
      (e: unknown) => e instanceof ParseError && e.lineNumber === 2,
    );
  },
});
