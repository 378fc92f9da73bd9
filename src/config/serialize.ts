/**
 * The resolved configuration as a `kubeproxy.config.k8s.io/v1alpha1` `KubeProxyConfiguration`,
 * for `--write-config-to` and `/configz`. Reading the written file back with `resolveConfig`
 * gives the same configuration; keys are sorted as kube-proxy writes them. Other modes'
 * sections (`nftables`, `winkernel`) are left out: they do not apply in IPVS mode.
 *
 * @module
 */

import { stringify } from "yaml";
import type { ProxyConfig } from "./types.ts";
import { formatGoDuration } from "./duration.ts";

/** Recursively sorts object keys, as Go's YAML encoder of a struct-as-map writes them. */
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.keys(value).sort().map((key) => [key, sorted((value as Record<string, unknown>)[key])]),
  );
}

function ipvsSection(config: ProxyConfig): Record<string, unknown> {
  const { ipvs } = config;
  return {
    excludeCIDRs: ipvs.excludeCIDRs.length === 0 ? null : [...ipvs.excludeCIDRs],
    minSyncPeriod: formatGoDuration(ipvs.minSyncPeriodMs),
    scheduler: ipvs.scheduler,
    strictARP: ipvs.strictARP,
    syncPeriod: formatGoDuration(ipvs.syncPeriodMs),
    tcpFinTimeout: formatGoDuration(ipvs.tcpFinTimeoutMs),
    tcpTimeout: formatGoDuration(ipvs.tcpTimeoutMs),
    udpTimeout: formatGoDuration(ipvs.udpTimeoutMs),
  };
}

function loggingSection(config: ProxyConfig): Record<string, unknown> {
  const { logging } = config;
  const stream = { infoBufferSize: "0", splitStream: logging.splitStream };
  return {
    flushFrequency: formatGoDuration(logging.flushFrequencyMs),
    format: logging.format,
    options: { json: stream, text: stream },
    verbosity: logging.verbosity,
    ...(logging.vmodule.length === 0 ? {} : { vmodule: logging.vmodule.map((v) => ({ ...v })) }),
  };
}

function conntrackSection(config: ProxyConfig): Record<string, unknown> {
  const { conntrack } = config;
  return {
    maxPerCore: conntrack.maxPerCore,
    min: conntrack.min,
    tcpBeLiberal: conntrack.tcpBeLiberal,
    tcpCloseWaitTimeout: formatGoDuration(conntrack.tcpCloseWaitTimeout),
    tcpEstablishedTimeout: formatGoDuration(conntrack.tcpEstablishedTimeout),
    udpStreamTimeout: formatGoDuration(conntrack.udpStreamTimeout),
    udpTimeout: formatGoDuration(conntrack.udpTimeout),
  };
}

/**
 * The configuration as a v1alpha1 `KubeProxyConfiguration` object (plain JSON values).
 * A server disabled by a flag (`--healthz-port=0`) is written as "", which a config file
 * reads as the default, as in kube-proxy.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./load.ts";
 * const { config } = resolveConfig({ file: "", text: undefined, flags: { proxyMode: "ipvs" }, env: {} });
 * const object = toKubeProxyConfiguration(config);
 * object.kind; // "KubeProxyConfiguration"
 * ```
 */
export function toKubeProxyConfiguration(config: ProxyConfig): Record<string, unknown> {
  return sorted({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    bindAddress: config.bindAddress,
    bindAddressHardFail: config.bindAddressHardFail,
    clientConnection: { ...config.clientConnection },
    clusterCIDR: config.clusterCIDRs.join(","),
    configSyncPeriod: formatGoDuration(config.configSyncPeriodMs),
    conntrack: conntrackSection(config),
    detectLocal: { ...config.detectLocal },
    detectLocalMode: config.detectLocalMode,
    enableProfiling: config.enableProfiling,
    featureGates: { ...config.featureGates },
    healthzBindAddress: config.healthzBindAddress,
    hostnameOverride: config.hostnameOverride,
    iptables: {
      localhostNodePorts: config.iptables.localhostNodePorts,
      masqueradeAll: config.iptables.masqueradeAll,
      masqueradeBit: config.iptables.masqueradeBit,
      minSyncPeriod: formatGoDuration(config.iptables.minSyncPeriodMs),
      syncPeriod: formatGoDuration(config.iptables.syncPeriodMs),
    },
    ipvs: ipvsSection(config),
    logging: loggingSection(config),
    metricsBindAddress: config.metricsBindAddress,
    mode: config.mode,
    nodePortAddresses: config.nodePortAddresses.length === 0 ? null : [...config.nodePortAddresses],
    oomScoreAdj: config.oomScoreAdj,
    portRange: config.portRange,
    showHiddenMetricsForVersion: config.showHiddenMetricsForVersion,
  }) as Record<string, unknown>;
}

/** The configuration as the YAML text `--write-config-to` writes. */
export function renderKubeProxyConfiguration(config: ProxyConfig): string {
  return stringify(toKubeProxyConfiguration(config), { lineWidth: 0 });
}
