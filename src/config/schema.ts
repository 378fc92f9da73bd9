/**
 * The fields of `KubeProxyConfiguration` (kubeproxy.config.k8s.io/v1alpha1), so that a
 * misspelt field is reported instead of silently ignored.
 *
 * @module
 */

import type { ProxySection } from "./documents.ts";
import { isRecord } from "./documents.ts";
import { describeOrigin, invalidValue, showValue } from "./errors.ts";

/** A mapping's known keys; `"any"` marks a field whose contents are not checked. */
export interface FieldShape {
  /** A known key: its sub-shape, or "any". */
  readonly [key: string]: FieldShape | "any";
}

/**
 * Every field of today's v1alpha1 `KubeProxyConfiguration`
 * (`staging/src/k8s.io/kube-proxy/config/v1alpha1/types.go`), so a valid kubeadm file gives no
 * warning. Other modes' sections (`nftables`, `winkernel`) are accepted and not read, as
 * kube-proxy accepts them in IPVS mode; a few fields of older releases too.
 */
export const KUBE_PROXY_FIELDS: FieldShape = {
  apiVersion: "any",
  kind: "any",
  featureGates: "any",
  clientConnection: {
    acceptContentTypes: "any",
    burst: "any",
    contentType: "any",
    kubeconfig: "any",
    qps: "any",
  },
  logging: {
    format: "any",
    flushFrequency: "any",
    verbosity: "any",
    vmodule: "any",
    options: {
      text: { splitStream: "any", infoBufferSize: "any" },
      json: { splitStream: "any", infoBufferSize: "any" },
    },
  },
  hostnameOverride: "any",
  bindAddress: "any",
  healthzBindAddress: "any",
  metricsBindAddress: "any",
  bindAddressHardFail: "any",
  enableProfiling: "any",
  showHiddenMetricsForVersion: "any",
  mode: "any",
  iptables: {
    masqueradeAll: "any",
    masqueradeBit: "any",
    localhostNodePorts: "any",
    snatNodeInternalIP: "any",
    syncPeriod: "any",
    minSyncPeriod: "any",
  },
  ipvs: {
    syncPeriod: "any",
    minSyncPeriod: "any",
    scheduler: "any",
    excludeCIDRs: "any",
    strictARP: "any",
    tcpTimeout: "any",
    tcpFinTimeout: "any",
    udpTimeout: "any",
  },
  nftables: {
    masqueradeAll: "any",
    masqueradeBit: "any",
    syncPeriod: "any",
    minSyncPeriod: "any",
  },
  winkernel: {
    networkName: "any",
    sourceVip: "any",
    enableDSR: "any",
    rootHnsEndpointName: "any",
    forwardHealthCheckVip: "any",
  },
  detectLocalMode: "any",
  detectLocal: { bridgeInterface: "any", interfaceNamePrefix: "any" },
  clusterCIDR: "any",
  nodePortAddresses: "any",
  oomScoreAdj: "any",
  conntrack: {
    maxPerCore: "any",
    min: "any",
    tcpEstablishedTimeout: "any",
    tcpCloseWaitTimeout: "any",
    tcpBeLiberal: "any",
    udpTimeout: "any",
    udpStreamTimeout: "any",
  },
  configSyncPeriod: "any",
  portRange: "any",
  windowsRunAsService: "any",
  // Fields of older releases and of the internal type, accepted as before.
  udpIdleTimeout: "any",
  resourceContainer: "any",
  linux: "any",
  windows: "any",
  syncPeriod: "any",
  minSyncPeriod: "any",
};

/**
 * Checks the section against {@link KUBE_PROXY_FIELDS}: returns one warning per unknown field
 * (`x.yaml:7:3: unknown field 'ipvs.sheduler' is ignored; ...`).
 *
 * @throws {ConfigError} when a known section such as `ipvs` is not a mapping.
 */
export function checkFields(section: ProxySection): string[] {
  const warnings: string[] = [];
  walk(section, section.fields, KUBE_PROXY_FIELDS, [], warnings);
  return warnings;
}

/** Visits one mapping, recursing into known sub-sections. */
function walk(
  section: ProxySection,
  mapping: Readonly<Record<string, unknown>>,
  shape: FieldShape,
  path: readonly string[],
  warnings: string[],
): void {
  for (const [key, value] of Object.entries(mapping)) {
    const fieldPath = [...path, key];
    const known = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (known === undefined) {
      const origin = section.locate(fieldPath, "key");
      warnings.push(
        `${describeOrigin(origin)}: unknown field '${origin.field}' is ignored; ` +
          `check its spelling against KubeProxyConfiguration v1alpha1`,
      );
    } else if (known !== "any" && value !== null && value !== undefined) {
      if (!isRecord(value)) {
        throw invalidValue(
          section.locate(fieldPath),
          value,
          `expected a mapping of ${key} settings, got ${showValue(value)}`,
        );
      }
      walk(section, value, known, fieldPath, warnings);
    }
  }
}
