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
}

/** A fully resolved `KubeProxyConfiguration` in IPVS mode. */
export interface ProxyConfig {
  /** Only `ipvs` is supported. */
  readonly mode: "ipvs";
  /** Canonical pod CIDRs (one per family at most). @default [] */
  readonly clusterCIDRs: readonly string[];
  /** How local traffic is detected. @default "ClusterCIDR" */
  readonly detectLocalMode: string;
  /** Canonical CIDRs, or the word `primary` alone, that select NodePort addresses. @default [] (all) */
  readonly nodePortAddresses: readonly string[];
  /** This node's name; empty means the host name. @default "" */
  readonly hostnameOverride: string;
  /** Where `/healthz` is served; "" disables it. @default "0.0.0.0:10256" */
  readonly healthzBindAddress: string;
  /** Where `/metrics` is served; "" disables it. @default "127.0.0.1:10249" */
  readonly metricsBindAddress: string;
  /** `clientConnection.kubeconfig` (accepted; this proxy reads manifests instead). @default "" */
  readonly kubeconfig: string;
  /** Feature gates as given (the 2018 `SupportIPVSProxyMode` gate is accepted). @default {} */
  readonly featureGates: Readonly<Record<string, boolean>>;
  /** The `ipvs` section. */
  readonly ipvs: IpvsConfig;
  /** The `iptables` section. */
  readonly iptables: IptablesConfig;
  /** The file the configuration came from, or "" when only flags were used. */
  readonly source: string;
}
