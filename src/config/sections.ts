/**
 * The sections of the resolved configuration that are plain values: `ipvs`, `iptables`,
 * `conntrack`, `clientConnection`, `detectLocal`, `logging`. Each field takes kube-proxy's
 * default when unset, and when the file sets it to zero or "" where kube-proxy's defaulting
 * treats that as unset.
 *
 * @module
 */

import type {
  ClientConnectionConfig,
  ConntrackConfig,
  IptablesConfig,
  IpvsConfig,
  LoggingConfig,
  VModuleConfig,
} from "./types.ts";
import { DEFAULT_CLIENT_CONNECTION, DEFAULT_CONNTRACK, DEFAULT_LOGGING } from "./defaults.ts";
import { invalidValue, type Origin, rejectedValue, showValue } from "./errors.ts";
import type { ProxyFlagKey } from "./flag_table.ts";
import { choose, fromFlag, readList, setting, type Sources, zeroMeansDefault } from "./sources.ts";
import {
  readBoolean,
  readCidrs,
  readDurationMs,
  readInteger,
  readMasqueradeBit,
  readNumber,
  readScheduler,
  readString,
  splitCommaList,
} from "./values.ts";
import { isRecord } from "./documents.ts";

const INT32_MAX = 2_147_483_647;

function positive(raw: unknown, origin: Origin): number {
  return readDurationMs(raw, origin, "positive");
}

function atLeastZero(raw: unknown, origin: Origin): number {
  return readDurationMs(raw, origin, "non-negative");
}

/** A period the file may leave at "0s" for the default, but a flag must set above zero. */
function period(fallback: number): (raw: unknown, origin: Origin) => number {
  return (raw, origin) =>
    fromFlag(origin) ? positive(raw, origin) : zeroMeansDefault(atLeastZero, fallback)(raw, origin);
}

/** `ipvs.*`: syncPeriod 0 (kubeadm writes `0s`) is 30s; scheduler "" is rr. */
export function resolveIpvs(src: Sources): IpvsConfig {
  const syncPeriodMs = setting(src, "ipvs.syncPeriod", "ipvsSyncPeriod", period(30_000), 30_000);
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

/** `iptables.*`: masqueradeBit null is 14; the periods are iptables mode's (0 = default). */
export function resolveIptables(src: Sources): IptablesConfig {
  const syncPeriodMs = setting(
    src,
    "iptables.syncPeriod",
    "iptablesSyncPeriod",
    period(30_000),
    30_000,
  );
  const minSyncPeriodMs = setting(
    src,
    "iptables.minSyncPeriod",
    "iptablesMinSyncPeriod",
    zeroMeansDefault(atLeastZero, 1_000),
    1_000,
  );
  checkMinSyncPeriod(src, "iptables", "iptablesMinSyncPeriod", minSyncPeriodMs, syncPeriodMs);
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
    localhostNodePorts: setting(
      src,
      "iptables.localhostNodePorts",
      "iptablesLocalhostNodeports",
      readBoolean,
      true,
    ),
  };
}

/** kube-proxy rejects a minSyncPeriod longer than the syncPeriod. */
function checkMinSyncPeriod(
  src: Sources,
  prefix: "ipvs" | "iptables",
  flag: ProxyFlagKey,
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

const count = (raw: unknown, origin: Origin) => readInteger(raw, origin, 0, INT32_MAX);

/** `conntrack.*`: null is the default; 0 and "0s" are kept (they leave the sysctl as is). */
export function resolveConntrack(src: Sources): ConntrackConfig {
  const d = DEFAULT_CONNTRACK;
  const field = <T>(
    name: keyof ConntrackConfig,
    flag: ProxyFlagKey,
    read: (raw: unknown, origin: Origin) => T,
    fallback: T,
  ) => setting(src, `conntrack.${name}`, flag, read, fallback);
  return {
    maxPerCore: field("maxPerCore", "conntrackMaxPerCore", count, d.maxPerCore),
    min: field("min", "conntrackMin", count, d.min),
    tcpEstablishedTimeout: field(
      "tcpEstablishedTimeout",
      "conntrackTcpTimeoutEstablished",
      atLeastZero,
      d.tcpEstablishedTimeout,
    ),
    tcpCloseWaitTimeout: field(
      "tcpCloseWaitTimeout",
      "conntrackTcpTimeoutCloseWait",
      atLeastZero,
      d.tcpCloseWaitTimeout,
    ),
    tcpBeLiberal: field("tcpBeLiberal", "conntrackTcpBeLiberal", readBoolean, false),
    udpTimeout: field("udpTimeout", "conntrackUdpTimeout", atLeastZero, 0),
    udpStreamTimeout: field("udpStreamTimeout", "conntrackUdpTimeoutStream", atLeastZero, 0),
  };
}

/** `clientConnection.*`: qps 0 is 5, burst 0 is 10, contentType "" is protobuf. */
export function resolveClientConnection(src: Sources): ClientConnectionConfig {
  const d = DEFAULT_CLIENT_CONNECTION;
  const path = (name: string) => `clientConnection.${name}`;
  return {
    kubeconfig: setting(src, path("kubeconfig"), "kubeconfig", readString, ""),
    qps: setting(
      src,
      path("qps"),
      "kubeApiQps",
      zeroMeansDefault((raw, origin) => readNumber(raw, origin, 0), d.qps),
      d.qps,
    ),
    burst: setting(src, path("burst"), "kubeApiBurst", zeroMeansDefault(count, d.burst), d.burst),
    contentType: setting(
      src,
      path("contentType"),
      "kubeApiContentType",
      zeroMeansDefault(readString, d.contentType),
      d.contentType,
    ),
    acceptContentTypes: setting(src, path("acceptContentTypes"), undefined, readString, ""),
  };
}

const LOG_FORMATS = ["text", "json"] as const;

function readLogFormat(raw: unknown, origin: Origin): "text" | "json" {
  const format = readString(raw, origin).trim();
  if (format === "") return "text";
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw invalidValue(origin, raw, `expected "text" or "json", got ${showValue(raw)}`);
  }
  return format as "text" | "json";
}

/** `--vmodule=sync_*=4,main=2`, as klog parses it. */
export function parseVModule(text: string, origin: Origin): VModuleConfig[] {
  return splitCommaList(text).map((item) => {
    const match = /^([^=]+)=(\d+)$/.exec(item);
    if (match === null) {
      throw invalidValue(origin, text, `expected pattern=N items like "sync_*=4", got "${item}"`);
    }
    return { filePattern: match[1], verbosity: Number(match[2]) };
  });
}

/** `logging.vmodule` in the file: a list of `{filePattern, verbosity}`. */
function readVModuleList(raw: unknown, origin: Origin): VModuleConfig[] {
  if (!Array.isArray(raw)) {
    throw invalidValue(origin, raw, `expected a list of {filePattern, verbosity}`);
  }
  return raw.map((item) => {
    if (!isRecord(item) || typeof item.filePattern !== "string") {
      throw invalidValue(origin, item, `expected {filePattern: "sync_*", verbosity: 4}`);
    }
    return {
      filePattern: item.filePattern,
      verbosity: readInteger(item.verbosity, origin, 0, INT32_MAX),
    };
  });
}

/** `logging.flushFrequency`: a duration string, or a number of nanoseconds. */
function readFlushFrequency(raw: unknown, origin: Origin): number {
  if (typeof raw === "number" && Number.isFinite(raw) && raw >= 0) return Math.round(raw / 1e6);
  return atLeastZero(raw, origin);
}

/** `logging.*` with the logging flags winning over the file, as kube-proxy copies them. */
export function resolveLogging(src: Sources): LoggingConfig {
  const d = DEFAULT_LOGGING;
  const flagItems = choose(src, "-", "vmodule");
  const fileItems = choose({ ...src, flags: {} }, "logging.vmodule", undefined);
  const format = setting(src, "logging.format", "loggingFormat", readLogFormat, d.format);
  const splitFlag = format === "json" ? "logJsonSplitStream" : "logTextSplitStream";
  return {
    format,
    verbosity: setting(src, "logging.verbosity", "v", count, d.verbosity),
    vmodule: [
      ...(flagItems === undefined ? [] : parseVModule(String(flagItems.raw), flagItems.origin)),
      ...(fileItems === undefined ? [] : readVModuleList(fileItems.raw, fileItems.origin)),
    ],
    flushFrequencyMs: setting(
      src,
      "logging.flushFrequency",
      "logFlushFrequency",
      zeroMeansDefault(readFlushFrequency, d.flushFrequencyMs),
      d.flushFrequencyMs,
    ),
    splitStream: setting(
      src,
      `logging.options.${format}.splitStream`,
      splitFlag,
      readBoolean,
      false,
    ),
  };
}
