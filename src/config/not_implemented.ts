/**
 * Settings that matter in IPVS mode but that this proxy does not act on yet: one warning
 * naming those the operator set (in the file or by flag) to a value kube-proxy would act on,
 * and a detail line for the defaults kube-proxy would apply (oom_score_adj). The conntrack
 * settings are applied by the node preparation (`src/node_prep/`).
 *
 * @module
 */

import type { ProxyConfig } from "./types.ts";
import { choose, type Sources } from "./sources.ts";
import type { ProxyFlagKey } from "./flag_table.ts";

/** One not-implemented setting: its path, flag, and whether a value has an effect. */
interface Pending {
  readonly path: string;
  readonly flag: ProxyFlagKey;
  readonly value: (config: ProxyConfig) => string | number | boolean;
  /** True when kube-proxy would act on this value. */
  readonly acts: (config: ProxyConfig) => boolean;
  /** What it is for, in a few words. */
  readonly what: string;
}

const PENDING: readonly Pending[] = [
  {
    path: "oomScoreAdj",
    flag: "oomScoreAdj",
    value: (c) => c.oomScoreAdj,
    acts: () => true,
    what: "/proc/self/oom_score_adj",
  },
  {
    path: "bindAddress",
    flag: "bindAddress",
    value: (c) => c.bindAddress,
    acts: (c) => c.bindAddress !== "0.0.0.0" && c.bindAddress !== "::",
    what: "the node's primary IP; use --node-ip",
  },
  {
    path: "bindAddressHardFail",
    flag: "bindAddressHardFail",
    value: (c) => c.bindAddressHardFail,
    acts: (c) => c.bindAddressHardFail,
    what: "exit when a port cannot be bound",
  },
  {
    path: "enableProfiling",
    flag: "profiling",
    value: (c) => c.enableProfiling,
    acts: (c) => c.enableProfiling,
    what: "/debug/pprof",
  },
  ...(["text", "json"] as const).map((format): Pending => ({
    path: `logging.options.${format}.splitStream`,
    flag: format === "text" ? "logTextSplitStream" : "logJsonSplitStream",
    value: (c) => c.logging.splitStream,
    acts: (c) => c.logging.splitStream && c.logging.format === format,
    what: "info lines on stdout, where this proxy prints its results",
  })),
  {
    path: "showHiddenMetricsForVersion",
    flag: "showHiddenMetricsForVersion",
    value: (c) => c.showHiddenMetricsForVersion,
    acts: (c) => c.showHiddenMetricsForVersion !== "",
    what: "hidden metrics",
  },
];

function describe(pending: Pending, config: ProxyConfig): string {
  return `${pending.path} ${JSON.stringify(pending.value(config))} (${pending.what})`;
}

/**
 * The not-implemented settings: one warning for those set explicitly, one detail line for
 * kube-proxy's defaults that are not applied either.
 */
export function notImplemented(
  src: Sources,
  config: ProxyConfig,
): { warnings: string[]; details: string[] } {
  const acting = PENDING.filter((pending) => pending.acts(config));
  const isSet = (pending: Pending) => choose(src, pending.path, pending.flag) !== undefined;
  const set = acting.filter(isSet);
  const defaults = acting.filter((pending) => !isSet(pending));
  const warnings = [
    ...(set.length === 0 ? [] : [
      `not implemented yet, so this proxy does not do what kube-proxy would with: ` +
      `${set.map((p) => describe(p, config)).join(", ")}; apply them on the node yourself ` +
      `if you rely on them`,
    ]),
  ];
  const details = defaults.length === 0 ? [] : [
    `kube-proxy's defaults not applied (not implemented yet): ` +
    defaults.map((p) => describe(p, config)).join(", "),
  ];
  return { warnings, details };
}
