import assert from "node:assert/strict";
import { closure, loadOrder, moduleName, parseBuiltin, parseModulesDep } from "./modules_dep.ts";

// A cut of the real modules.dep of linux-image-6.1.0-56-amd64.
const DEP =
  `kernel/net/netfilter/ipvs/ip_vs_rr.ko: kernel/net/netfilter/ipvs/ip_vs.ko kernel/net/netfilter/nf_conntrack.ko kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/nf_conntrack.ko: kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko:
kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko:
kernel/lib/libcrc32c.ko:
kernel/drivers/net/dummy.ko:
kernel/sound/core/snd.ko: kernel/sound/soundcore.ko
kernel/sound/soundcore.ko:
`;

Deno.test({
  name: "loadOrder() lists dependencies before dependents, each file once",
  permissions: "none",
  fn: () => {
    const order = loadOrder(parseModulesDep(DEP), ["ip_vs_rr", "ip_vs", "dummy"]);
    assert.equal(order.length, 7);
    assert.equal(new Set(order).size, order.length);
    const at = (name: string) => order.findIndex((file) => moduleName(file) === name);
    assert.ok(at("nf_conntrack") < at("ip_vs"));
    assert.ok(at("libcrc32c") < at("nf_conntrack"));
    assert.ok(at("ip_vs") < at("ip_vs_rr"));
  },
});

Deno.test({
  name: "loadOrder() skips built-in modules and rejects unknown ones",
  permissions: "none",
  fn: () => {
    const deps = parseModulesDep(DEP);
    assert.deepEqual(
      loadOrder(deps, ["tcp_cubic"], parseBuiltin("kernel/net/ipv4/tcp_cubic.ko\n")),
      [],
    );
    assert.throws(() => loadOrder(deps, ["no_such_module"]), /'no_such_module' is neither/);
  },
});

Deno.test({
  name: "closure() keeps what the kept files need and nothing else",
  permissions: "none",
  fn: () => {
    const kept = closure(parseModulesDep(DEP), ["kernel/net/netfilter/ipvs/ip_vs.ko"]);
    assert.equal(kept.size, 5);
    assert.ok(!kept.has("kernel/sound/soundcore.ko"));
  },
});

Deno.test({
  name: "moduleName() strips the directory and suffix and treats '-' as '_'",
  permissions: "none",
  fn: () => {
    assert.equal(moduleName("kernel/arch/x86/crypto/crc32c-intel.ko"), "crc32c_intel");
    assert.equal(moduleName("kernel/net/9p/9pnet_virtio.ko.xz"), "9pnet_virtio");
  },
});

Deno.test({
  name: "parseModulesDep() names the line it cannot parse",
  permissions: "none",
  fn: () => {
    assert.throws(() => parseModulesDep("kernel/a.ko:\nno colon here\n"), /line 2/);
  },
});
