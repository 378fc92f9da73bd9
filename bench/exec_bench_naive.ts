/**
 * The exec benchmark's naive samples: the batched tools against one process per entry, on the
 * same data. kube-proxy runs one `ipset add` per entry and one `ip addr add` per address; each
 * is started here with a bare `Deno.Command` (as kube-proxy's Go exec starts it) and, again,
 * through this project's `runCommand`, then the same entries go in with one batched run.
 *
 * Runs only inside the benchmark's own network namespace (see `exec_bench.ts`).
 *
 * @module
 */

import type { IpSet, KernelState } from "../src/state/types.ts";
import { IPVS_DEVICE } from "../src/state/types.ts";
import { fail, must } from "./exec_bench_steps.ts";

/** Entries taken from each of KUBE-CLUSTER-IP and KUBE-LOOP-BACK for the naive ipset sample. */
const IPSET_SAMPLE_PER_SET = 1_000;
/** Addresses for the naive `ip addr add` sample. */
const ADDRESS_SAMPLE = 1_000;

/** The ipset sample's figures: bare `Deno.Command` per entry, through `runCommand`, batched. */
export interface NaiveIpsetFigures {
  entries: number;
  perEntryMs: number;
  perEntryRunCommandMs: number;
  batchedMs: number;
}

/** The address sample's figures: bare `Deno.Command` per address, through `runCommand`, batched. */
export interface NaiveAddressFigures {
  addresses: number;
  perAddressMs: number;
  perAddressRunCommandMs: number;
  batchedMs: number;
}

/**
 * The same entries into fresh sets (not `KUBE-`, so no sync touches them) three ways: one
 * `ipset add` process each (bare `Deno.Command`, then through `runCommand`), and one
 * `ipset restore` of the lines the backend renders (`add SET ENTRY -exist`).
 */
export async function naiveIpsetSample(desired: KernelState): Promise<NaiveIpsetFigures> {
  console.error(`naive ipset: ${2 * IPSET_SAMPLE_PER_SET} ipset add processes ...`);
  const sources = [setOf(desired, "KUBE-CLUSTER-IP"), setOf(desired, "KUBE-LOOP-BACK")];
  const sample = sources.map((set) => ({
    name: `NAIVE-${set.name.slice("KUBE-".length)}`,
    header: `${set.type} family ${set.family} hashsize 1024 maxelem 65536`,
    entries: set.entries.slice(0, IPSET_SAMPLE_PER_SET),
  }));
  const entries = sample.reduce((n, s) => n + s.entries.length, 0);
  const adds = sample.flatMap((set) =>
    set.entries.map((entry) => ["ipset", "add", set.name, entry])
  );
  const restore = adds.map(([, , set, entry]) => `add ${set} ${entry} -exist\n`).join("");

  /** Runs `fill` on freshly created sets, checks they hold the sample, destroys them. */
  async function onFreshSets(fill: () => Promise<number>): Promise<number> {
    for (const set of sample) await must(["ipset", "create", set.name, ...set.header.split(" ")]);
    const millis = await fill();
    let held = 0;
    for (const set of sample) {
      const saved = await must(["ipset", "save", set.name]);
      held += saved.split("\n").filter((l) => l.startsWith("add ")).length;
      await must(["ipset", "destroy", set.name]);
    }
    if (held !== entries) fail(`the sample sets hold ${held} entries, expected ${entries}`);
    return millis;
  }

  return {
    entries,
    perEntryMs: await onFreshSets(() => onePerProcess(adds, true)),
    perEntryRunCommandMs: await onFreshSets(() => onePerProcess(adds, false)),
    batchedMs: await onFreshSets(async () =>
      (await timeIt(() => must(["ipset", "restore"], restore)))[1]
    ),
  };
}

/** The same addresses onto a fresh veth: one `ip addr add` process each, or one `ip -batch`. */
export async function naiveAddressSample(desired: KernelState): Promise<NaiveAddressFigures> {
  console.error(`naive addresses: ${ADDRESS_SAMPLE} ip addr add processes ...`);
  const device = "naive0";
  const addresses = desired.addresses.filter((a) => a.device === IPVS_DEVICE)
    .slice(0, ADDRESS_SAMPLE).map((a) => a.address);
  const adds = addresses.map((address) => ["ip", "addr", "add", address, "dev", device]);
  const batch = addresses.map((a) => `address add ${a} dev ${device}\n`).join("");

  /** Runs `fill` on a fresh link, checks it holds the sample, deletes it. */
  async function onFreshLink(fill: () => Promise<number>): Promise<number> {
    await must(["ip", "link", "add", device, "type", "veth", "peer", "name", `${device}-peer`]);
    const millis = await fill();
    const shown = (await must(["ip", "-o", "-4", "addr", "show", "dev", device])).trim();
    const held = shown === "" ? 0 : shown.split("\n").length;
    await must(["ip", "link", "delete", device]);
    if (held !== addresses.length) fail(`${device} held ${held}, not ${addresses.length}`);
    return millis;
  }

  return {
    addresses: addresses.length,
    perAddressMs: await onFreshLink(() => onePerProcess(adds, true)),
    perAddressRunCommandMs: await onFreshLink(() => onePerProcess(adds, false)),
    batchedMs: await onFreshLink(async () =>
      (await timeIt(() => must(["ip", "-batch", "-"], batch)))[1]
    ),
  };
}

/**
 * One process per command, each awaited before the next, as kube-proxy runs them; `bare` starts
 * each with `Deno.Command` directly, otherwise through `runCommand` (what the backend pays).
 */
async function onePerProcess(commands: readonly string[][], bare: boolean): Promise<number> {
  const [, millis] = await timeIt(async () => {
    for (const argv of commands) {
      if (!bare) {
        await must(argv);
        continue;
      }
      const out = await new Deno.Command(argv[0], {
        args: argv.slice(1),
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!out.success) fail(`${argv.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  });
  return millis;
}

async function timeIt<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await work();
  return [value, performance.now() - start];
}

function setOf(state: KernelState, name: string): IpSet {
  const set = state.ipsets.find((s) => s.name === name);
  if (set === undefined) fail(`the desired state has no set ${name}`);
  return set;
}
