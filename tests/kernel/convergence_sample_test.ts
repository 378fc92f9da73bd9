/**
 * The convergence property (tests/convergence) on the real kernel, for a sample of cases: each
 * generated current kernel — ours for an older cluster, damaged, with legacy and wrong-typed
 * sets and foreign objects — is written into the kernel with the tools, one sync with the exec
 * backend is applied, and then a second diff must be empty and every foreign object as it was,
 * read back with the tools (`ipset save`, `iptables-save`, `ipvsadm -Sn`, `ip -j addr`).
 *
 * `CONVERGENCE_VM_RUNS` (default 3, for CI) and `CONVERGENCE_VM_SEED` (default 20261202) set
 * the sample. Connection counts cannot be written, so a busy real server reads as idle here.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { ExecBackend } from "../../backends/exec/exec_backend.ts";
import { runCommand } from "../../backends/exec/command.ts";
import { readAllAddresses } from "../../backends/exec/read_kernel.ts";
import { diffStates } from "../../src/plan/diff.ts";
import { createLine, parseIpsetSave } from "../../src/render/ipset.ts";
import { BUILTIN_CHAINS, parseIptablesSave, renderTableState } from "../../src/render/iptables.ts";
import { parseIpvsadmSave, renderIpvsState } from "../../src/render/ipvsadm.ts";
import type { IptablesFamily, KernelState, TableName } from "../../src/state/types.ts";
import { IPVS_DEVICE } from "../../src/state/types.ts";
import { sortKernelState } from "../../src/state/keys.ts";
import { caseArb, EXCLUDED_CIDR, statesOf } from "../convergence/arbitraries.ts";
import { untouchable } from "../convergence/untouchable.ts";
import { kernelTest, run, sh } from "./harness.ts";

const RUNS = Number(Deno.env.get("CONVERGENCE_VM_RUNS") ?? 3);
const SEED = Number(Deno.env.get("CONVERGENCE_VM_SEED") ?? 20261202);
const OPTIONS = { excludeCIDRs: [EXCLUDED_CIDR] };
/** The generated kernels put foreign addresses on `eth0`; the VM's stand-in is a dummy link. */
const FOREIGN_DEVICE = "eth0";
const RESTORE: Record<IptablesFamily, string> = {
  ipv4: "iptables-restore",
  ipv6: "ip6tables-restore",
};
const SAVE: Record<IptablesFamily, string> = { ipv4: "iptables-save", ipv6: "ip6tables-save" };

/** Leaves the kernel with no set, chain, virtual server or test link at all (this is a VM). */
async function reset(): Promise<void> {
  for (const program of ["iptables", "ip6tables"]) {
    for (const table of ["nat", "filter"]) {
      await sh([program, "-t", table, "-F"]);
      await sh([program, "-t", table, "-X"]);
    }
  }
  await sh(["ipset", "destroy"]);
  await sh(["ipvsadm", "-C"]);
  for (const link of [IPVS_DEVICE, FOREIGN_DEVICE]) {
    const shown = await run(["ip", "link", "show", link]);
    if (shown.code === 0) await sh(["ip", "link", "delete", link]);
  }
}

/** Writes `state` into the kernel with the tools, every object as it is (foreign ones too). */
async function seed(state: KernelState): Promise<void> {
  const sets = state.ipsets.flatMap((s) => [
    createLine(s).replace(/ comment -exist$/, "").replace(/ -exist$/, ""),
    ...s.entries.map((e) => `add ${s.name} ${e}`),
  ]);
  if (sets.length > 0) await sh(["ipset", "restore"], sets.join("\n") + "\n");
  for (const family of ["ipv4", "ipv6"] as const) {
    for (const table of ["nat", "filter"] as const) {
      const t = state.iptables[family][table];
      if (t.chains.length === 0 && t.jumps.length === 0) continue;
      await sh([RESTORE[family], "--noflush"], renderTableState(table, t));
    }
  }
  const ipvs = renderIpvsState(state.virtualServers);
  if (ipvs !== "") await sh(["ipvsadm", "--restore"], ipvs);
  const links = state.linkPresent ? [`link add ${IPVS_DEVICE} type dummy`] : [];
  if (state.addresses.some((a) => a.device === FOREIGN_DEVICE)) {
    links.push(`link add ${FOREIGN_DEVICE} type dummy`);
  }
  const addresses = state.addresses.map((a) => `address add ${a.address} dev ${a.device}`);
  if (links.length + addresses.length > 0) {
    await sh(["ip", "-batch", "-"], [...links, ...addresses].join("\n") + "\n");
  }
}

/** The chains `iptables-save` declares in one table, but the built-in ones. */
function declaredChains(text: string): string[] {
  return [...text.matchAll(/^:(\S+) /gm)].map((m) => m[1]).filter((c) =>
    !BUILTIN_CHAINS.includes(c)
  );
}

async function readTables(family: IptablesFamily) {
  const table = async (name: TableName) => {
    const text = await sh([SAVE[family], "-t", name]);
    return parseIptablesSave(text, declaredChains(text), name);
  };
  return { nat: await table("nat"), filter: await table("filter") };
}

/** Everything the kernel holds, ours or not, as the tools print it. */
async function readEverything(): Promise<KernelState> {
  const links = await readAllAddresses(runCommand);
  const addresses = links.flatMap((l) =>
    [IPVS_DEVICE, FOREIGN_DEVICE].includes(l.ifname ?? "")
      ? (l.addr_info ?? []).filter((a) => a.scope === "global").map((a) => ({
        device: l.ifname!,
        address: `${a.local}/${a.prefixlen}`,
      }))
      : []
  );
  return sortKernelState({
    families: ["ipv4", "ipv6"],
    virtualServers: parseIpvsadmSave(await sh(["ipvsadm", "-Sn"])),
    ipsets: parseIpsetSave(await sh(["ipset", "save"])),
    iptables: { ipv4: await readTables("ipv4"), ipv6: await readTables("ipv6") },
    linkPresent: links.some((l) => l.ifname === IPVS_DEVICE),
    addresses,
  });
}

kernelTest(
  "one real sync converges from sampled generated kernels and leaves foreign objects as they were",
  async () => {
    let cases = 0;
    try {
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          cases++;
          const { current, desired } = statesOf(c);
          await reset();
          await seed(current);
          const before = await readEverything();
          const backend = new ExecBackend({ families: desired.families });
          const plan = diffStates(await backend.read(), desired, OPTIONS);
          const result = await backend.apply(plan);
          assert.deepEqual(result.failures, [], "the plan was refused");
          assert.deepEqual(diffStates(await backend.read(), desired, OPTIONS), []);
          assert.deepEqual(
            untouchable(await readEverything(), desired, OPTIONS.excludeCIDRs),
            untouchable(before, desired, OPTIONS.excludeCIDRs),
            "a foreign object changed",
          );
        }),
        // No shrinking on the real kernel: the seed and the first counterexample are enough.
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
    } finally {
      await reset();
    }
    console.log(`convergence on the real kernel: ${cases} cases (seed ${SEED}) converged`);
  },
);
