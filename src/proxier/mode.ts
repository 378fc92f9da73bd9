/**
 * Which proxier a node runs, decided once at startup as the seed describes: `mode: ipvs`
 * uses IPVS when its prerequisites are met and otherwise falls back to iptables mode,
 * logging `Can't use ipvs proxier, trying iptables proxier` and `Using iptables Proxier.`;
 * `mode: iptables` (and kube-proxy's empty mode, which means iptables) uses iptables mode.
 * Pure: the caller runs the preflight and passes its verdict.
 *
 * @module
 */

import { computeDesiredState, type DesiredState, type ProxierInput } from "./desired_state.ts";
import { computeIptablesDesiredState } from "../iptables_proxier/desired_state.ts";

/** The two proxiers. */
export type ProxierKind = "ipvs" | "iptables";

/** The seed's log lines, word for word. */
export const LOG_USING_IPVS = "Using ipvs Proxier.";
/** Logged when IPVS mode was asked for and cannot run. */
export const LOG_FALLBACK = "Can't use ipvs proxier, trying iptables proxier";
/** Logged when iptables mode runs. */
export const LOG_USING_IPTABLES = "Using iptables Proxier.";

/** The decision and the lines to log, in order. */
export interface ProxierChoice {
  /** The proxier to run. */
  readonly proxier: ProxierKind;
  /** The log lines, in order (the seed's wording). */
  readonly logLines: readonly string[];
}

/** Whether a configured mode is one this project runs (`""` is kube-proxy's iptables). */
export function isSupportedMode(mode: string): mode is "" | "ipvs" | "iptables" {
  return mode === "" || mode === "ipvs" || mode === "iptables";
}

/**
 * The proxier for `mode`, given whether IPVS's prerequisites are met (the preflight's `ok`;
 * it is only consulted for `ipvs`, so callers need not run it for iptables mode).
 *
 * @example
 * ```ts
 * chooseProxier("ipvs", false).logLines;
 * // ["Can't use ipvs proxier, trying iptables proxier", "Using iptables Proxier."]
 * chooseProxier("", true).proxier; // "iptables"
 * ```
 */
export function chooseProxier(mode: string, ipvsUsable: boolean): ProxierChoice {
  if (!isSupportedMode(mode)) {
    throw new Error(`Cannot choose a proxier for mode "${mode}": expected ipvs, iptables or ""`);
  }
  if (mode === "ipvs") {
    if (ipvsUsable) return { proxier: "ipvs", logLines: [LOG_USING_IPVS] };
    return { proxier: "iptables", logLines: [LOG_FALLBACK, LOG_USING_IPTABLES] };
  }
  return { proxier: "iptables", logLines: [LOG_USING_IPTABLES] };
}

/**
 * The desired state of the chosen proxier.
 *
 * @example
 * ```ts
 * import { snapshot, testConfig } from "./testing.ts";
 * const input = { config: testConfig(), snapshot: snapshot([]), nodeName: "n", nodeIPs: [] };
 * computeDesiredStateFor("iptables", input).state.linkPresent; // false
 * ```
 */
export function computeDesiredStateFor(proxier: ProxierKind, input: ProxierInput): DesiredState {
  return proxier === "ipvs" ? computeDesiredState(input) : computeIptablesDesiredState(input);
}
