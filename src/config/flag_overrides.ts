/**
 * kube-proxy's command-line flags, as the CLI hands them to the config module: raw, and only
 * those that were given.
 *
 * @module
 */

/**
 * kube-proxy's flags as given on the command line, unparsed; `undefined` means "not given",
 * so the file's value (or the default) applies.
 */
export interface ProxyFlagOverrides {
  /** `--proxy-mode` */
  readonly proxyMode?: string;
  /** `--ipvs-scheduler` */
  readonly ipvsScheduler?: string;
  /** `--ipvs-sync-period`, a Go duration */
  readonly ipvsSyncPeriod?: string;
  /** `--ipvs-min-sync-period`, a Go duration */
  readonly ipvsMinSyncPeriod?: string;
  /** `--ipvs-exclude-cidrs`, a comma list of CIDRs */
  readonly ipvsExcludeCidrs?: string;
  /** `--ipvs-strict-arp` */
  readonly ipvsStrictArp?: boolean;
  /** `--ipvs-tcp-timeout`, a Go duration */
  readonly ipvsTcpTimeout?: string;
  /** `--ipvs-tcpfin-timeout`, a Go duration */
  readonly ipvsTcpfinTimeout?: string;
  /** `--ipvs-udp-timeout`, a Go duration */
  readonly ipvsUdpTimeout?: string;
  /** `--masquerade-all` */
  readonly masqueradeAll?: boolean;
  /** `--iptables-masquerade-bit`, an integer 0..31 */
  readonly iptablesMasqueradeBit?: string;
  /** `--cluster-cidr`, one CIDR or an IPv4,IPv6 pair */
  readonly clusterCidr?: string;
  /** `--nodeport-addresses`, a comma list of CIDRs or `primary` */
  readonly nodeportAddresses?: string;
  /** `--hostname-override` */
  readonly hostnameOverride?: string;
  /** `--healthz-bind-address` */
  readonly healthzBindAddress?: string;
  /** `--metrics-bind-address` */
  readonly metricsBindAddress?: string;
  /** `--kubeconfig` */
  readonly kubeconfig?: string;
  /** `--feature-gates`, e.g. `SupportIPVSProxyMode=true` */
  readonly featureGates?: string;
}

/** The command-line name (without `--`) of each kube-proxy flag. */
export const PROXY_FLAG_NAMES: Readonly<Record<keyof ProxyFlagOverrides, string>> = {
  proxyMode: "proxy-mode",
  ipvsScheduler: "ipvs-scheduler",
  ipvsSyncPeriod: "ipvs-sync-period",
  ipvsMinSyncPeriod: "ipvs-min-sync-period",
  ipvsExcludeCidrs: "ipvs-exclude-cidrs",
  ipvsStrictArp: "ipvs-strict-arp",
  ipvsTcpTimeout: "ipvs-tcp-timeout",
  ipvsTcpfinTimeout: "ipvs-tcpfin-timeout",
  ipvsUdpTimeout: "ipvs-udp-timeout",
  masqueradeAll: "masquerade-all",
  iptablesMasqueradeBit: "iptables-masquerade-bit",
  clusterCidr: "cluster-cidr",
  nodeportAddresses: "nodeport-addresses",
  hostnameOverride: "hostname-override",
  healthzBindAddress: "healthz-bind-address",
  metricsBindAddress: "metrics-bind-address",
  kubeconfig: "kubeconfig",
  featureGates: "feature-gates",
};
