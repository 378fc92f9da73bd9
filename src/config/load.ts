/**
 * Resolves the proxy configuration from a config file's text, kube-proxy flags and the
 * environment into one validated, defaulted, frozen {@link ProxyConfig}. Pure: no file I/O
 * (see `read_config_file.ts`), no reading of the process environment.
 *
 * @module
 */

import type { DetectLocalConfig, ProxyConfig, ProxyMode } from "./types.ts";
import {
  ConfigError,
  describeOrigin,
  invalidValue,
  type Origin,
  rejectedValue,
  showValue,
} from "./errors.ts";
import { type Located, type ProxySection, readProxySection } from "./documents.ts";
import { checkFields } from "./schema.ts";
import type { ProxyFlagOverrides } from "./flag_table.ts";
import { IPVS_GATE, parseFeatureGateString, readFeatureGates } from "./feature_gates.ts";
import { DEFAULT_CONFIG_SYNC_PERIOD_MS, DEFAULT_OOM_SCORE_ADJ } from "./defaults.ts";
import {
  applicableFlags,
  choose,
  flagOrigin,
  fromFlag,
  readList,
  setting,
  type Sources,
  zeroMeansDefault,
} from "./sources.ts";
import {
  resolveClientConnection,
  resolveConntrack,
  resolveIptables,
  resolveIpvs,
  resolveLogging,
} from "./sections.ts";
import { resolveAddresses } from "./addresses.ts";
import { notImplemented } from "./not_implemented.ts";
import {
  readBoolean,
  readClusterCidrs,
  readDurationMs,
  readInteger,
  readMatching,
  readNodePortAddresses,
  readString,
} from "./values.ts";

export { ConfigError } from "./errors.ts";
export { PROXY_FLAG_NAMES, type ProxyFlagOverrides } from "./flag_overrides.ts";

/** What {@link resolveConfig} reads. */
export interface ResolveConfigInput {
  /** The config file's name for messages, "" when there is none. */
  readonly file: string;
  /** The config file's text, or undefined when no file was given. */
  readonly text: string | undefined;
  /**
   * kube-proxy flags from the command line. As in kube-proxy, a config file wins: with one,
   * only the logging flags, `--hostname-override` and `--kubeconfig` apply (the others are
   * ignored with a warning each).
   */
  readonly flags: ProxyFlagOverrides;
  /** The environment; only `KUBE_PROXY_MODE` is read, when nothing else sets the mode. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** False for `--cleanup`, which works whatever the mode says. @default true */
  readonly requireMode?: boolean;
}

/** The resolved configuration and warnings worth printing (unknown fields, ignored flags). */
export interface ResolvedConfig {
  /** The configuration, deeply frozen. */
  readonly config: ProxyConfig;
  /** One line each, already naming the file and position: `x.yaml:5:3: unknown field ...`. */
  readonly warnings: string[];
  /** Detail lines for the V(2) log: flags without effect in IPVS mode, defaults not applied. */
  readonly details: string[];
}

/** The values `detectLocalMode` may take; "" means ClusterCIDR. */
const DETECT_LOCAL_MODES = ["ClusterCIDR", "NodeCIDR", "BridgeInterface", "InterfaceNamePrefix"];

/**
 * Resolves the configuration with kube-proxy's precedence and defaulting: a config file wins
 * over the configuration flags; a zero or empty value in the file means the default
 * (`ipvs.syncPeriod: 0s` is 30s, `masqueradeBit: null` is 14); `KUBE_PROXY_MODE` is used only
 * when nothing else sets `mode`.
 *
 * @example
 * ```ts
 * const { config } = resolveConfig({
 *   file: "",
 *   text: undefined,
 *   flags: { proxyMode: "ipvs", clusterCidr: "10.244.0.0/16" },
 *   env: {},
 * });
 * config.ipvs.syncPeriodMs; // 30000
 * ```
 *
 * @throws {ConfigError} for any invalid input, naming the file or flag, the field and the value.
 */
export function resolveConfig(input: ResolveConfigInput): ResolvedConfig {
  const fileGiven = input.text !== undefined;
  const section = input.text === undefined
    ? emptySection(input.file)
    : readProxySection(input.file, input.text);
  const applicable = applicableFlags(input.flags, fileGiven ? input.file : "");
  const src: Sources = { section, flags: applicable.flags, fileGiven };
  const warnings = [...section.warnings, ...checkFields(section), ...applicable.warnings];
  const config = buildConfig(src, input, warnings);
  const pending = notImplemented(src, config);
  return {
    config: deepFreeze(config),
    warnings: [...warnings, ...pending.warnings],
    details: [...applicable.details, ...pending.details],
  };
}

/** Every field of the resolved configuration. */
function buildConfig(src: Sources, input: ResolveConfigInput, warnings: string[]): ProxyConfig {
  const addresses = resolveAddresses(src, warnings);
  const detectLocalMode = setting(
    src,
    "detectLocalMode",
    "detectLocalMode",
    readDetectLocalMode,
    "ClusterCIDR",
  );
  return {
    mode: input.requireMode === false ? "ipvs" : resolveMode(src, input.env),
    clusterCIDRs: resolveClusterCidrs(src),
    detectLocalMode,
    detectLocal: resolveDetectLocal(src, detectLocalMode),
    nodePortAddresses: setting(src, "nodePortAddresses", "nodeportAddresses", readNodePort, []),
    hostnameOverride: setting(src, "hostnameOverride", "hostnameOverride", readHostname, ""),
    ...addresses,
    ...resolveProcessSettings(src),
    clientConnection: resolveClientConnection(src),
    conntrack: resolveConntrack(src),
    logging: resolveLogging(src),
    featureGates: resolveFeatureGates(src),
    ipvs: resolveIpvs(src),
    iptables: resolveIptables(src),
    source: input.text === undefined ? "" : input.file,
  };
}

/** The settings of the process itself: ports, profiling, metrics, oom_score_adj, periods. */
function resolveProcessSettings(src: Sources) {
  return {
    bindAddressHardFail: setting(
      src,
      "bindAddressHardFail",
      "bindAddressHardFail",
      readBoolean,
      false,
    ),
    enableProfiling: setting(src, "enableProfiling", "profiling", readBoolean, false),
    showHiddenMetricsForVersion: setting(
      src,
      "showHiddenMetricsForVersion",
      "showHiddenMetricsForVersion",
      (raw, origin) => readMatching(raw, origin, /^\d+\.\d+$/, `a version like "1.30"`),
      "",
    ),
    oomScoreAdj: setting(
      src,
      "oomScoreAdj",
      "oomScoreAdj",
      (raw, origin) => readInteger(raw, origin, -1000, 1000),
      DEFAULT_OOM_SCORE_ADJ,
    ),
    portRange: setting(
      src,
      "portRange",
      undefined,
      (raw, origin) =>
        readMatching(raw, origin, /^\d+([-+]\d+)?$/, `a port range like "30000-32767"`),
      "",
    ),
    configSyncPeriodMs: setting(
      src,
      "configSyncPeriod",
      "configSyncPeriod",
      readConfigSyncPeriod,
      DEFAULT_CONFIG_SYNC_PERIOD_MS,
    ),
  };
}

/** `configSyncPeriod`: "0s" in the file is 15m; a flag must be above zero. */
function readConfigSyncPeriod(raw: unknown, origin: Origin): number {
  if (fromFlag(origin)) return readDurationMs(raw, origin, "positive");
  const read = (r: unknown, o: Origin) => readDurationMs(r, o, "non-negative");
  return zeroMeansDefault(read, DEFAULT_CONFIG_SYNC_PERIOD_MS)(raw, origin);
}

/** A section for "no config file": no fields, and origins that name only the field. */
function emptySection(file: string): ProxySection {
  return { file, fields: {}, locate: (path) => ({ file, field: path.join(".") }), warnings: [] };
}

function readNodePort(raw: unknown, origin: Origin): string[] {
  return readNodePortAddresses(readList(raw, origin), raw, origin);
}

function readHostname(raw: unknown, origin: Origin): string {
  // kube-proxy lowercases and trims the override, so node names match Node objects.
  const name = readString(raw, origin).trim().toLowerCase();
  if (name === "" && fromFlag(origin) && readString(raw, origin) !== "") {
    throw rejectedValue(origin, raw, `an empty (blank) --hostname-override is invalid`);
  }
  return name;
}

function readDetectLocalMode(raw: unknown, origin: Origin): string {
  const mode = readString(raw, origin);
  if (mode === "") return "ClusterCIDR";
  if (!DETECT_LOCAL_MODES.includes(mode)) {
    throw invalidValue(
      origin,
      raw,
      `expected one of ${DETECT_LOCAL_MODES.join(" ")}, got ${showValue(raw)}`,
    );
  }
  return mode;
}

/** `detectLocal.*`; the BridgeInterface and InterfaceNamePrefix modes need theirs set. */
function resolveDetectLocal(src: Sources, mode: string): DetectLocalConfig {
  const detectLocal = {
    bridgeInterface: setting(
      src,
      "detectLocal.bridgeInterface",
      "podBridgeInterface",
      readString,
      "",
    ),
    interfaceNamePrefix: setting(
      src,
      "detectLocal.interfaceNamePrefix",
      "podInterfaceNamePrefix",
      readString,
      "",
    ),
  };
  const needed = mode === "BridgeInterface"
    ? ["bridgeInterface", "podBridgeInterface"] as const
    : mode === "InterfaceNamePrefix"
    ? ["interfaceNamePrefix", "podInterfaceNamePrefix"] as const
    : undefined;
  if (needed !== undefined && detectLocal[needed[0]] === "") {
    const origin = choose(src, "detectLocalMode", "detectLocalMode")?.origin ??
      { file: src.section.file, field: "detectLocalMode" };
    throw rejectedValue(
      origin,
      mode,
      `detectLocalMode ${mode} needs detectLocal.${needed[0]} (--${
        needed[1] === "podBridgeInterface" ? "pod-bridge-interface" : "pod-interface-name-prefix"
      }); set it, or use ClusterCIDR`,
    );
  }
  checkInterfaceName(
    src,
    "detectLocal.bridgeInterface",
    "podBridgeInterface",
    detectLocal.bridgeInterface,
    15,
  );
  // The prefix gets iptables' `+` wildcard, which counts towards the 15 characters.
  checkInterfaceName(
    src,
    "detectLocal.interfaceNamePrefix",
    "podInterfaceNamePrefix",
    detectLocal.interfaceNamePrefix,
    14,
  );
  return detectLocal;
}

/**
 * An interface name goes into iptables rules as `-i NAME`: it must be one the kernel and
 * iptables take (at most 15 characters with the `+` wildcard, no space, `/`, `:` or quote),
 * so it cannot end the rule early or add an argument.
 */
function checkInterfaceName(
  src: Sources,
  path: string,
  flag: "podBridgeInterface" | "podInterfaceNamePrefix",
  name: string,
  maxLength: number,
): void {
  if (name === "" || (name.length <= maxLength && /^[^\s/:'"!+]+$/.test(name))) return;
  const origin = choose(src, path, flag)?.origin ?? { file: src.section.file, field: path };
  throw rejectedValue(
    origin,
    name,
    `must be a network interface name of at most ${maxLength} characters without spaces, ` +
      `'/', ':', '+', '!' or quotes, got ${showValue(name)}`,
  );
}

/** Mode from `--proxy-mode` (without a file), else the file, else `KUBE_PROXY_MODE`. */
const PROXY_MODES: readonly string[] = ["", "ipvs", "iptables"] satisfies ProxyMode[];

function isSupportedMode(mode: string): mode is ProxyMode {
  return PROXY_MODES.includes(mode);
}

function resolveMode(src: Sources, env: ResolveConfigInput["env"]): ProxyMode {
  const fileMode = choose(src, "mode", undefined);
  const candidates: Located[] = [
    { raw: src.flags.proxyMode, origin: flagOrigin("proxyMode") },
    ...(fileMode === undefined ? [] : [fileMode]),
    { raw: env.KUBE_PROXY_MODE, origin: { file: "", field: "KUBE_PROXY_MODE" } },
  ];
  // "" is kube-proxy's "unset" (kubeadm writes `mode: ""`), so it falls through to the next;
  // when nothing sets it, kube-proxy on Linux runs iptables mode, and so does this proxy.
  const chosen = candidates.find(({ raw, origin }) =>
    raw !== undefined && readString(raw, origin).trim() !== ""
  );
  if (chosen === undefined) return "";
  const mode = (chosen.raw as string).trim();
  if (!isSupportedMode(mode)) throw unsupportedMode(chosen, mode);
  return mode;
}

function unsupportedMode(chosen: Located, mode: string): ConfigError {
  const { origin } = chosen;
  const by = origin.file === "" ? origin.field : `'${origin.field}' in the file`;
  const fixThis = origin.field === "--proxy-mode"
    ? "pass --proxy-mode=ipvs"
    : origin.field === "KUBE_PROXY_MODE"
    ? "export KUBE_PROXY_MODE=ipvs"
    : `set "${origin.field}: ipvs" in the file`;
  return new ConfigError(
    `${describeOrigin(origin)}: unsupported 'mode' ${showValue(mode)} (set by ${by}): ` +
      `this proxy runs "ipvs" and "iptables" (or "", which is iptables); ${fixThis}`,
    { ...origin, value: mode },
  );
}

/** `--cluster-cidr`, else the file's `clusterCIDR`, else kubeadm's `networking.podSubnet`. */
function resolveClusterCidrs(src: Sources): string[] {
  const chosen = choose(src, "clusterCIDR", "clusterCidr");
  const fromFile = chosen !== undefined && !fromFlag(chosen.origin);
  // kubeadm copies podSubnet into an empty clusterCIDR; do the same.
  const empty = fromFile && typeof chosen.raw === "string" && chosen.raw.trim() === "";
  const picked = chosen === undefined || empty ? src.section.podSubnet ?? chosen : chosen;
  return picked === undefined ? [] : readClusterCidrs(picked.raw, picked.origin);
}

/** File gates, then `--feature-gates` per gate; `SupportIPVSProxyMode: false` is an error. */
function resolveFeatureGates(src: Sources): Record<string, boolean> {
  const fileGates = setting(src, "featureGates", undefined, readFeatureGates, {});
  const flagOrigin: Origin = { file: "", field: "--feature-gates" };
  const flagText = src.flags.featureGates;
  const flagGates = flagText === undefined ? {} : parseFeatureGateString(flagText, flagOrigin);
  const gates = { ...fileGates, ...flagGates };
  if (gates[IPVS_GATE] === false) {
    const origin = IPVS_GATE in flagGates
      ? flagOrigin
      : src.section.locate(["featureGates", IPVS_GATE]);
    const value = origin === flagOrigin ? flagText : false;
    throw rejectedValue(
      origin,
      value,
      `got ${showValue(value)}, but IPVS mode needs the ${IPVS_GATE} feature gate; ` +
        `set it to true or remove it`,
    );
  }
  return gates;
}

/** Freezes an object and everything it holds, so no consumer can change the configuration. */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
