/**
 * Resolves the proxy configuration from a config file's text, kube-proxy flags and the
 * environment into one validated, defaulted, frozen {@link ProxyConfig}. Pure: no file I/O
 * (see `read_config_file.ts`), no reading of the process environment.
 *
 * @module
 */

import type { IptablesConfig, IpvsConfig, ProxyConfig } from "./types.ts";
import {
  ConfigError,
  describeOrigin,
  invalidValue,
  type Origin,
  rejectedValue,
  showValue,
} from "./errors.ts";
import { getPath, type Located, type ProxySection, readProxySection } from "./documents.ts";
import { checkFields } from "./schema.ts";
import { PROXY_FLAG_NAMES, type ProxyFlagOverrides } from "./flag_overrides.ts";
import { IPVS_GATE, parseFeatureGateString, readFeatureGates } from "./feature_gates.ts";
import {
  readBindAddress,
  readBoolean,
  readCidrs,
  readClusterCidrs,
  readDurationMs,
  readMasqueradeBit,
  readNodePortAddresses,
  readScheduler,
  readString,
  readStringList,
  splitCommaList,
} from "./values.ts";

export { ConfigError } from "./errors.ts";
export { PROXY_FLAG_NAMES, type ProxyFlagOverrides } from "./flag_overrides.ts";

/** What {@link resolveConfig} reads. */
export interface ResolveConfigInput {
  /** The config file's name for messages, "" when there is none. */
  readonly file: string;
  /** The config file's text, or undefined when no file was given. */
  readonly text: string | undefined;
  /** kube-proxy flags from the command line; they override the file. */
  readonly flags: ProxyFlagOverrides;
  /** The environment; only `KUBE_PROXY_MODE` is read (as `hack/local-up-cluster.sh` sets it). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The resolved configuration and warnings worth printing (unknown fields, ignored documents). */
export interface ResolvedConfig {
  /** The configuration, deeply frozen. */
  readonly config: ProxyConfig;
  /** One line each, already naming the file and position: `x.yaml:5:3: unknown field ...`. */
  readonly warnings: string[];
}

/** The values `detectLocalMode` may take; "" means ClusterCIDR. */
const DETECT_LOCAL_MODES = ["ClusterCIDR", "NodeCIDR", "BridgeInterface", "InterfaceNamePrefix"];

/** The file's section plus the flags: everything a field needs to pick its value. */
interface Sources {
  readonly section: ProxySection;
  readonly flags: ProxyFlagOverrides;
}

/**
 * Resolves the configuration: flags override the file, the file overrides the defaults, and
 * `KUBE_PROXY_MODE` is used only when neither flags nor file set `mode`.
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
  const section = input.text === undefined
    ? emptySection(input.file)
    : readProxySection(input.file, input.text);
  const warnings = [...section.warnings, ...checkFields(section)];
  const src: Sources = { section, flags: input.flags };
  const config: ProxyConfig = {
    mode: resolveMode(src, input.env),
    clusterCIDRs: resolveClusterCidrs(src),
    detectLocalMode: setting(src, "detectLocalMode", undefined, readDetectLocalMode, "ClusterCIDR"),
    nodePortAddresses: setting(src, "nodePortAddresses", "nodeportAddresses", readNodePort, []),
    hostnameOverride: setting(src, "hostnameOverride", "hostnameOverride", readHostname, ""),
    healthzBindAddress: setting(
      src,
      "healthzBindAddress",
      "healthzBindAddress",
      (raw, origin) => readBindAddress(raw, origin, "0.0.0.0:10256"),
      "0.0.0.0:10256",
    ),
    metricsBindAddress: setting(
      src,
      "metricsBindAddress",
      "metricsBindAddress",
      (raw, origin) => readBindAddress(raw, origin, "127.0.0.1:10249"),
      "127.0.0.1:10249",
    ),
    kubeconfig: setting(src, "clientConnection.kubeconfig", "kubeconfig", readString, ""),
    featureGates: resolveFeatureGates(src),
    ipvs: resolveIpvs(src),
    iptables: resolveIptables(src),
    source: input.text === undefined ? "" : input.file,
  };
  return { config: deepFreeze(config), warnings: [...warnings, ...notImplemented(config)] };
}

/**
 * Settings accepted for compatibility whose effect this proxy does not have yet: said once at
 * startup rather than silently ignored.
 */
function notImplemented(config: ProxyConfig): string[] {
  if (config.detectLocalMode === "ClusterCIDR") return [];
  return [
    `detectLocalMode ${JSON.stringify(config.detectLocalMode)} is not implemented yet: ` +
    "traffic to cluster IPs is masqueraded as without a clusterCIDR (the src,dst form); " +
    "use ClusterCIDR with clusterCIDR for kube-proxy's default behaviour",
  ];
}

/** A section for "no config file": no fields, and origins that name only the field. */
function emptySection(file: string): ProxySection {
  return { file, fields: {}, locate: (path) => ({ file, field: path.join(".") }), warnings: [] };
}

/** The flag's value when given, else the file's when set (not null), else undefined. */
function choose(
  src: Sources,
  path: string,
  flag: keyof ProxyFlagOverrides | undefined,
): Located | undefined {
  const flagValue = flag === undefined ? undefined : src.flags[flag];
  if (flag !== undefined && flagValue !== undefined) {
    return { raw: flagValue, origin: { file: "", field: `--${PROXY_FLAG_NAMES[flag]}` } };
  }
  const keys = path.split(".");
  const raw = getPath(src.section.fields, keys);
  if (raw === undefined || raw === null) return undefined;
  return { raw, origin: src.section.locate(keys) };
}

/** One field: read the chosen raw value, or use the default when nothing sets it. */
function setting<T>(
  src: Sources,
  path: string,
  flag: keyof ProxyFlagOverrides | undefined,
  read: (raw: unknown, origin: Origin) => T,
  fallback: T,
): T {
  const chosen = choose(src, path, flag);
  return chosen === undefined ? fallback : read(chosen.raw, chosen.origin);
}

/** True when the origin is a flag, whose lists are comma-separated text. */
function fromFlag(origin: Origin): boolean {
  return origin.field.startsWith("--");
}

/** A list field: a YAML list in the file, a comma list on the command line. */
function readList(raw: unknown, origin: Origin): string[] {
  return fromFlag(origin) ? splitCommaList(readString(raw, origin)) : readStringList(raw, origin);
}

function readNodePort(raw: unknown, origin: Origin): string[] {
  return readNodePortAddresses(readList(raw, origin), raw, origin);
}

function readHostname(raw: unknown, origin: Origin): string {
  // kube-proxy lowercases and trims the override, so node names match Node objects.
  return readString(raw, origin).trim().toLowerCase();
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

/** Mode from `--proxy-mode`, else the file, else `KUBE_PROXY_MODE`; only `ipvs` is accepted. */
function resolveMode(src: Sources, env: ResolveConfigInput["env"]): "ipvs" {
  const fileMode = choose(src, "mode", undefined);
  const candidates: Located[] = [
    { raw: src.flags.proxyMode, origin: { file: "", field: "--proxy-mode" } },
    ...(fileMode === undefined ? [] : [fileMode]),
    { raw: env.KUBE_PROXY_MODE, origin: { file: "", field: "KUBE_PROXY_MODE" } },
  ];
  // "" is kube-proxy's "unset" (kubeadm writes `mode: ""`), so it falls through to the next.
  const chosen = candidates.find(({ raw, origin }) =>
    raw !== undefined && readString(raw, origin).trim() !== ""
  );
  const fix = `set "mode: ipvs" in the config file, pass --proxy-mode=ipvs ` +
    `or export KUBE_PROXY_MODE=ipvs`;
  if (chosen === undefined) {
    const where = src.section.file === "" ? "configuration" : src.section.file;
    throw new ConfigError(
      `${where}: 'mode' is not set (kube-proxy then uses iptables), but only "ipvs" is ` +
        `supported so far: ${fix}`,
      { file: src.section.file, field: "mode", value: "" },
    );
  }
  const mode = (chosen.raw as string).trim();
  if (mode !== "ipvs") {
    const { origin } = chosen;
    const by = origin.file === "" ? origin.field : `'${origin.field}' in the file`;
    const fixThis = origin.field === "--proxy-mode"
      ? "pass --proxy-mode=ipvs"
      : origin.field === "KUBE_PROXY_MODE"
      ? "export KUBE_PROXY_MODE=ipvs"
      : `set "${origin.field}: ipvs" in the file`;
    throw new ConfigError(
      `${describeOrigin(origin)}: unsupported 'mode' ${showValue(mode)} (set by ${by}): ` +
        `only "ipvs" is supported so far; ${fixThis}`,
      { ...origin, value: mode },
    );
  }
  return "ipvs";
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

function resolveIpvs(src: Sources): IpvsConfig {
  const positive = (raw: unknown, origin: Origin) => readDurationMs(raw, origin, "positive");
  const atLeastZero = (raw: unknown, origin: Origin) => readDurationMs(raw, origin, "non-negative");
  const syncPeriodMs = setting(src, "ipvs.syncPeriod", "ipvsSyncPeriod", positive, 30_000);
  const minSyncPeriodMs = setting(src, "ipvs.minSyncPeriod", "ipvsMinSyncPeriod", atLeastZero, 0);
  checkMinSyncPeriod(src, "ipvs", "ipvsMinSyncPeriod", minSyncPeriodMs, syncPeriodMs);
  return {
    scheduler: setting(src, "ipvs.scheduler", "ipvsScheduler", readScheduler, "rr"),
    syncPeriodMs,
    minSyncPeriodMs,
    excludeCIDRs: setting(
      src,
      "ipvs.excludeCIDRs",
      "ipvsExcludeCidrs",
      (raw, origin) => readCidrs(readList(raw, origin), origin),
      [],
    ),
    strictARP: setting(src, "ipvs.strictARP", "ipvsStrictArp", readBoolean, false),
    tcpTimeoutMs: setting(src, "ipvs.tcpTimeout", "ipvsTcpTimeout", atLeastZero, 0),
    tcpFinTimeoutMs: setting(src, "ipvs.tcpFinTimeout", "ipvsTcpfinTimeout", atLeastZero, 0),
    udpTimeoutMs: setting(src, "ipvs.udpTimeout", "ipvsUdpTimeout", atLeastZero, 0),
  };
}

function resolveIptables(src: Sources): IptablesConfig {
  const positive = (raw: unknown, origin: Origin) => readDurationMs(raw, origin, "positive");
  const atLeastZero = (raw: unknown, origin: Origin) => readDurationMs(raw, origin, "non-negative");
  const syncPeriodMs = setting(src, "iptables.syncPeriod", undefined, positive, 30_000);
  const minSyncPeriodMs = setting(src, "iptables.minSyncPeriod", undefined, atLeastZero, 1_000);
  checkMinSyncPeriod(src, "iptables", undefined, minSyncPeriodMs, syncPeriodMs);
  return {
    masqueradeAll: setting(src, "iptables.masqueradeAll", "masqueradeAll", readBoolean, false),
    masqueradeBit: setting(
      src,
      "iptables.masqueradeBit",
      "iptablesMasqueradeBit",
      readMasqueradeBit,
      14,
    ),
    syncPeriodMs,
    minSyncPeriodMs,
  };
}

/** kube-proxy rejects a minSyncPeriod longer than the syncPeriod. */
function checkMinSyncPeriod(
  src: Sources,
  prefix: "ipvs" | "iptables",
  flag: keyof ProxyFlagOverrides | undefined,
  minMs: number,
  syncMs: number,
): void {
  if (minMs <= syncMs) return;
  const chosen = choose(src, `${prefix}.minSyncPeriod`, flag);
  if (chosen === undefined) return; // unreachable: the defaults are ordered
  throw rejectedValue(
    chosen.origin,
    chosen.raw,
    `must not be longer than ${prefix}.syncPeriod (${syncMs / 1000}s), got ${
      showValue(chosen.raw)
    }`,
  );
}

/** Freezes an object and everything it holds, so no consumer can change the configuration. */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
