/**
 * One half of the cross-check (`netlink_cross_check_test.ts`): run in a fresh network
 * namespace, applies the plans on stdin (JSON) with the backend named in `Deno.args[0]`
 * (`exec` or `netlink`) and prints, as JSON, what each apply reported and what the tools
 * then show: `ipset save`, `iptables-save`, `ip6tables-save`, `ip addr` and `ip link` of
 * kube-ipvs0, without what differs between any two runs (random initvals and the entry order they
 * give, link indexes, MACs).
 *
 * @module
 */

import { NetlinkBackend } from "../../../backends/netlink/netlink_backend.ts";
import type { Backend } from "../../../backends/backend.ts";
import type { Plan } from "../../../src/plan/types.ts";
import { createNodeDevice } from "./cluster_fixture.ts";
import { namespaceBackend, prepareNamespace, tool } from "./namespace_helpers.ts";

async function shown(): Promise<Record<string, string>> {
  const withoutComments = (text: string) =>
    text.split("\n").filter((line) => !line.startsWith("#")).join("\n");
  return {
    // A hash set lists its entries in bucket order, which its random initval decides.
    ipset: (await tool(["ipset", "save"])).replace(/ initval 0x[0-9a-f]+/g, "").split("\n")
      .sort().join("\n"),
    iptables: withoutComments(await tool(["iptables-save"])),
    ip6tables: withoutComments(await tool(["ip6tables-save"])),
    addresses: (await tool(["ip", "-o", "addr", "show", "dev", "kube-ipvs0"]))
      .replace(/^\d+: /gm, ""),
    link: (await tool(["ip", "-o", "link", "show", "dev", "kube-ipvs0"]))
      .replace(/^\d+: /gm, "").replace(/@if\d+/, "").replace(/link\/ether \S+ brd \S+/, ""),
  };
}

const plans: Plan[] = JSON.parse(await new Response(Deno.stdin.readable).text());
await prepareNamespace();
await createNodeDevice();
const backend: Backend & { close?: () => Promise<void> } = Deno.args[0] === "netlink"
  ? new NetlinkBackend({ ipvs: false, linkType: "veth" })
  : namespaceBackend();
const results = [];
for (const plan of plans) {
  const { applied, failures } = await backend.apply(plan);
  results.push({ applied, failures: failures.length });
}
const read = await backend.read();
await backend.close?.();
console.log(JSON.stringify({ results, shown: await shown(), read }));
