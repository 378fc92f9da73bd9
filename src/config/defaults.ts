/**
 * kube-proxy's defaults (`SetDefaults_KubeProxyConfiguration`) for the sections that are
 * plain values, shared by the resolver, the serializer and tests.
 *
 * @module
 */

import type {
  ClientConnectionConfig,
  ConntrackConfig,
  DetectLocalConfig,
  LoggingConfig,
} from "./types.ts";

/** `clientConnection` defaults: qps 5, burst 10, protobuf requests. */
export const DEFAULT_CLIENT_CONNECTION: ClientConnectionConfig = Object.freeze({
  kubeconfig: "",
  qps: 5,
  burst: 10,
  contentType: "application/vnd.kubernetes.protobuf",
  acceptContentTypes: "",
});

/** `conntrack` defaults: 32768 per core, at least 131072, established 24h, close-wait 1h. */
export const DEFAULT_CONNTRACK: ConntrackConfig = Object.freeze({
  maxPerCore: 32 * 1024,
  min: 128 * 1024,
  tcpEstablishedTimeout: 24 * 3600_000,
  tcpCloseWaitTimeout: 3600_000,
  tcpBeLiberal: false,
  udpTimeout: 0,
  udpStreamTimeout: 0,
});

/** `detectLocal` defaults: both empty. */
export const DEFAULT_DETECT_LOCAL: DetectLocalConfig = Object.freeze({
  bridgeInterface: "",
  interfaceNamePrefix: "",
});

/** `logging` defaults (component-base's recommended configuration). */
export const DEFAULT_LOGGING: LoggingConfig = Object.freeze({
  format: "text",
  verbosity: 0,
  vmodule: Object.freeze([]),
  flushFrequencyMs: 5_000,
  splitStream: false,
});

/** kube-proxy's `oomScoreAdj` default (`qos.KubeProxyOOMScoreAdj`). */
export const DEFAULT_OOM_SCORE_ADJ = -999;

/** `configSyncPeriod` default, 15 minutes. */
export const DEFAULT_CONFIG_SYNC_PERIOD_MS = 15 * 60_000;
