/**
 * The resolved proxy configuration: every field defaulted, validated and frozen.
 * Nothing downstream of `src/config/` checks for `undefined` again.
 *
 * @module
 */

/** IPVS schedulers the kernel ships and kube-proxy accepts. */
export const SCHEDULERS = [
  "rr",
  "wrr",
  "lc",
  "wlc",
  "lblc",
  "lblcr",
  "dh",
  "sh",
  "sed",
  "nq",
  "mh",
  "fo",
  "ovf",
  "twos",
] as const;

/** One IPVS scheduler name. */
export type Scheduler = typeof SCHEDULERS[number];

/** The IPVS part of the configuration (`ipvs.*`). */
export interface IpvsConfig {
  /** The IPVS scheduler for every virtual server. @default "rr" (empty in the file means rr) */
  readonly scheduler: Scheduler;
  /** Full-sync period in milliseconds. @default 30000 */
  readonly syncPeriodMs: number;
  /** Minimum time between two syncs in milliseconds. @default 0 */
  readonly minSyncPeriodMs: number;
  /** Canonical CIDRs whose virtual servers are never deleted by a sync. @default [] */
  readonly excludeCIDRs: readonly string[];
  /** Set arp_ignore=1 / arp_announce=2. @default false */
  readonly strictARP: boolean;
  /** IPVS TCP timeout in milliseconds, 0 keeps the kernel's. @default 0 */
  readonly tcpTimeoutMs: number;
  /** IPVS TCP FIN timeout in milliseconds, 0 keeps the kernel's. @default 0 */
  readonly tcpFinTimeoutMs: number;
  /** IPVS UDP timeout in milliseconds, 0 keeps the kernel's. @default 0 */
  readonly udpTimeoutMs: number;
}

/** The iptables part of the configuration (`iptables.*`). */
export interface IptablesConfig {
  /** Masquerade all traffic to cluster IPs. @default false */
  readonly masqueradeAll: boolean;
  /** The fwmark bit (0..31) used to mark packets for SNAT. @default 14 */
  readonly masqueradeBit: number;
  /** `iptables.syncPeriod` in milliseconds (read for completeness; IPVS mode uses `ipvs.*`). @default 30000 */
  readonly syncPeriodMs: number;
  /** `iptables.minSyncPeriod` in milliseconds. @default 1000 */
  readonly minSyncPeriodMs: number;
  /** `iptables.localhostNodePorts` (iptables mode only; kept for `/configz`). @default true */
  readonly localhostNodePorts: boolean;
}

/** `clientConnection`: how the API client talks to the API server. */
export interface ClientConnectionConfig {
  /** The kubeconfig file; `--kubeconfig` wins over the file's. @default "" */
  readonly kubeconfig: string;
  /** Requests per second to the API server. @default 5 */
  readonly qps: number;
  /** Requests allowed in a burst above qps. @default 10 */
  readonly burst: number;
  /** The content type of requests. @default "application/vnd.kubernetes.protobuf" */
  readonly contentType: string;
  /** The Accept header, "" for the client's default. @default "" */
  readonly acceptContentTypes: string;
}

/** `conntrack`: the conntrack sysctls kube-proxy sets at startup (all durations in ms). */
export interface ConntrackConfig {
  /** NAT connections tracked per CPU core; 0 leaves nf_conntrack_max as is. @default 32768 */
  readonly maxPerCore: number;
  /** The least nf_conntrack_max, whatever maxPerCore gives. @default 131072 */
  readonly min: number;
  /** nf_conntrack_tcp_timeout_established in ms; 0 leaves it. @default 86400000 (24h) */
  readonly tcpEstablishedTimeout: number;
  /** nf_conntrack_tcp_timeout_close_wait in ms; 0 leaves it. @default 3600000 (1h) */
  readonly tcpCloseWaitTimeout: number;
  /** nf_conntrack_tcp_be_liberal=1. @default false */
  readonly tcpBeLiberal: boolean;
  /** nf_conntrack_udp_timeout in ms; 0 leaves it. @default 0 */
  readonly udpTimeout: number;
  /** nf_conntrack_udp_timeout_stream in ms; 0 leaves it. @default 0 */
  readonly udpStreamTimeout: number;
}

/** `detectLocal`: the settings of the BridgeInterface and InterfaceNamePrefix modes. */
export interface DetectLocalConfig {
  /** The pods' bridge, for `detectLocalMode: BridgeInterface`. @default "" */
  readonly bridgeInterface: string;
  /** The pods' interface prefix, for `detectLocalMode: InterfaceNamePrefix`. @default "" */
  readonly interfaceNamePrefix: string;
}

/** One `logging.vmodule` item. */
export interface VModuleConfig {
  /** A glob on the file name without its extension, e.g. `sync_*`. */
  readonly filePattern: string;
  /** The V level for matching files. */
  readonly verbosity: number;
}

/** `logging`: component-base's logging options; the logging flags win over the file. */
export interface LoggingConfig {
  /** `text` (klog's format) or `json`. @default "text" */
  readonly format: "text" | "json";
  /** The V level (`--v`). @default 0 */
  readonly verbosity: number;
  /** Per-file V levels (`--vmodule`). @default [] */
  readonly vmodule: readonly VModuleConfig[];
  /** `flushFrequency` in ms (lines are written unbuffered here). @default 5000 */
  readonly flushFrequencyMs: number;
  /** `options.text.splitStream` / `options.json.splitStream` (not implemented). @default false */
  readonly splitStream: boolean;
}

/**
 * The proxy modes this project runs: `ipvs`, `iptables`, and kube-proxy's empty mode, which
 * means iptables on Linux. Which proxier a node actually runs is decided at startup
 * (`chooseProxier`: `ipvs` falls back to iptables where IPVS cannot run).
 */
export type ProxyMode = "" | "ipvs" | "iptables";

/** A fully resolved `KubeProxyConfiguration`. */
export interface ProxyConfig {
  /** The configured mode, as written (`""` is iptables). */
  readonly mode: ProxyMode;
  /** Canonical pod CIDRs (one per family at most). @default [] */
  readonly clusterCIDRs: readonly string[];
  /** How local traffic is detected. @default "ClusterCIDR" */
  readonly detectLocalMode: string;
  /** Canonical CIDRs, or the word `primary` alone, that select NodePort addresses. @default [] (all) */
  readonly nodePortAddresses: readonly string[];
  /** This node's name; empty means the host name. @default "" */
  readonly hostnameOverride: string;
  /** Where `/healthz` is served; "" (only from flags) disables it. @default "0.0.0.0:10256" */
  readonly healthzBindAddress: string;
  /** Where `/metrics` is served; "" (only from flags) disables it. @default "127.0.0.1:10249" */
  readonly metricsBindAddress: string;
  /** The API client's settings (`clientConnection`). */
  readonly clientConnection: ClientConnectionConfig;
  /** kube-proxy's idea of the node's primary IP; "0.0.0.0" or "::" for none. @default "0.0.0.0" */
  readonly bindAddress: string;
  /** Exit when the healthz or metrics port cannot be bound. @default false */
  readonly bindAddressHardFail: boolean;
  /** Serve /debug/pprof on the metrics server (not implemented). @default false */
  readonly enableProfiling: boolean;
  /** Show metrics hidden since this `<major>.<minor>` version. @default "" */
  readonly showHiddenMetricsForVersion: string;
  /** The process's oom_score_adj, -1000..1000. @default -999 */
  readonly oomScoreAdj: number;
  /** `portRange` (the userspace proxy's, unused by kube-proxy today). @default "" */
  readonly portRange: string;
  /** How often the API client re-lists, in ms. @default 900000 (15m) */
  readonly configSyncPeriodMs: number;
  /** The conntrack sysctls (`conntrack`). */
  readonly conntrack: ConntrackConfig;
  /** The `detectLocal` section. */
  readonly detectLocal: DetectLocalConfig;
  /** The `logging` section, with the logging flags applied. */
  readonly logging: LoggingConfig;
  /** Feature gates as given (the 2018 `SupportIPVSProxyMode` gate is accepted). @default {} */
  readonly featureGates: Readonly<Record<string, boolean>>;
  /** The `ipvs` section. */
  readonly ipvs: IpvsConfig;
  /** The `iptables` section. */
  readonly iptables: IptablesConfig;
  /** The file the configuration came from, or "" when only flags were used. */
  readonly source: string;
}
