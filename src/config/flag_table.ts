/**
 * Every Linux flag of kube-proxy (`cmd/kube-proxy/app/options.go` `AddFlags`, component-base's
 * logging flags, `--version`, `--help`): its type, default, kube-proxy's meaning, the config
 * field it sets, how `--config` treats it, and what this proxy does with it. The parser, the
 * help text and the precedence rules are all read from this one table.
 *
 * @module
 */

/** How a flag's value is parsed (Go pflag's types). */
export type FlagType =
  | "string"
  | "bool"
  | "int"
  | "float"
  | "duration"
  | "ip"
  | "ipport"
  | "list"
  | "map"
  | "vmodule"
  | "version";

/**
 * How kube-proxy combines the flag with `--config`: `file` flags are ignored when a config
 * file is given; `always` flags apply anyway (hostname-override, master, logging; kubeconfig
 * here); `action` flags say what to do (config, cleanup, init-only, write-config-to, version).
 */
export type FlagRole = "file" | "always" | "action";

/**
 * What this proxy does with the flag: `used`; `stored` (kept in the resolved config for the
 * API client and `/configz`); `no-effect` (nothing to do in IPVS mode: a debug line);
 * `not-implemented` (kube-proxy would act on it, this proxy does not yet: a warning).
 */
export type FlagEffect = "used" | "stored" | "no-effect" | "not-implemented";

/** One row of the table. */
export interface KubeProxyFlag {
  /** The name without dashes, e.g. `ipvs-scheduler`. */
  readonly name: string;
  /** The key in {@link ProxyFlagOverrides}. */
  readonly key: string;
  /** The value's type. */
  readonly type: FlagType;
  /** A one-letter form (`-v`). */
  readonly shorthand?: string;
  /** kube-proxy's default, as its `--help` shows it. */
  readonly defaultText: string;
  /** kube-proxy's meaning, one line. */
  readonly help: string;
  /** The KubeProxyConfiguration field it sets, when it sets one. */
  readonly field?: string;
  /** How `--config` treats it. */
  readonly role: FlagRole;
  /** What this proxy does with it. */
  readonly effect: FlagEffect;
}

type Row = readonly [
  name: string,
  key: string,
  type: FlagType,
  defaultText: string,
  field: string,
  role: FlagRole,
  effect: FlagEffect,
  help: string,
];

/**
 * The table's rows as literals: name, key, type, default, field, role, effect, kube-proxy's
 * meaning. {@link KUBE_PROXY_FLAGS} is the same table as objects.
 */
// deno-fmt-ignore
export const KUBE_PROXY_FLAG_ROWS = [
  ["config", "config", "string", "", "", "action", "used", "The path to the configuration file"],
  ["write-config-to", "writeConfigTo", "string", "", "", "action", "used", "Write the resolved configuration to this file and exit"],
  ["cleanup", "cleanup", "bool", "false", "", "action", "used", "Clean up iptables and IPVS rules and exit"],
  ["init-only", "initOnly", "bool", "false", "", "action", "used", "Do the initialization that needs full root privileges (preflight, sysctls, kube-ipvs0), then exit"],
  ["version", "version", "version", "false", "", "action", "used", "Print version information and quit (--version=raw for more)"],
  ["help", "help", "bool", "false", "", "action", "used", "Help for kube-proxy"],
  ["feature-gates", "featureGates", "map", "", "featureGates", "file", "used", "key=value pairs that describe feature gates for alpha/experimental features"],
  ["kubeconfig", "kubeconfig", "string", "", "clientConnection.kubeconfig", "always", "stored", "Path to kubeconfig file with authorization information (here it wins over clientConnection.kubeconfig)"],
  ["master", "master", "string", "", "", "always", "stored", "The address of the Kubernetes API server (overrides any value in kubeconfig)"],
  ["kube-api-content-type", "kubeApiContentType", "string", "application/vnd.kubernetes.protobuf", "clientConnection.contentType", "file", "stored", "Content type of requests sent to apiserver"],
  ["kube-api-burst", "kubeApiBurst", "int", "10", "clientConnection.burst", "file", "stored", "Burst to use while talking with kubernetes apiserver"],
  ["kube-api-qps", "kubeApiQps", "float", "5", "clientConnection.qps", "file", "stored", "QPS to use while talking with kubernetes apiserver"],
  ["hostname-override", "hostnameOverride", "string", "", "hostnameOverride", "always", "used", "If non-empty, the name of this Node (default: the host name)"],
  ["bind-address", "bindAddress", "ip", "0.0.0.0", "bindAddress", "file", "not-implemented", "Overrides kube-proxy's idea of what its node's primary IP is"],
  ["healthz-bind-address", "healthzBindAddress", "ipport", "0.0.0.0:10256", "healthzBindAddress", "file", "used", "The IP address and port for the health check server to serve on"],
  ["metrics-bind-address", "metricsBindAddress", "ipport", "127.0.0.1:10249", "metricsBindAddress", "file", "used", "The IP address and port for the metrics server to serve on; empty disables it"],
  ["bind-address-hard-fail", "bindAddressHardFail", "bool", "false", "bindAddressHardFail", "file", "not-implemented", "Treat failure to bind to a port as fatal and exit"],
  ["profiling", "profiling", "bool", "false", "enableProfiling", "file", "not-implemented", "Enable profiling via web interface on /debug/pprof"],
  ["show-hidden-metrics-for-version", "showHiddenMetricsForVersion", "string", "", "showHiddenMetricsForVersion", "file", "not-implemented", "The previous version for which you want to show hidden metrics (<major>.<minor>)"],
  ["proxy-mode", "proxyMode", "string", "iptables", "mode", "file", "used", "Which proxy mode to use: 'ipvs', or 'iptables' (also when unset); ipvs falls back to iptables where IPVS cannot run"],
  ["iptables-masquerade-bit", "iptablesMasqueradeBit", "int", "14", "iptables.masqueradeBit", "file", "used", "The bit of the fwmark space to mark packets requiring SNAT with, 0..31"],
  ["masquerade-all", "masqueradeAll", "bool", "false", "iptables.masqueradeAll", "file", "used", "SNAT all traffic sent via Service cluster IPs"],
  ["iptables-localhost-nodeports", "iptablesLocalhostNodeports", "bool", "true", "iptables.localhostNodePorts", "file", "no-effect", "Allow NodePorts on localhost (iptables mode only)"],
  ["iptables-sync-period", "iptablesSyncPeriod", "duration", "30s", "iptables.syncPeriod", "file", "no-effect", "How often iptables rules are refreshed (iptables mode only)"],
  ["iptables-min-sync-period", "iptablesMinSyncPeriod", "duration", "1s", "iptables.minSyncPeriod", "file", "no-effect", "The minimum period between iptables rule resyncs (iptables mode only)"],
  ["ipvs-sync-period", "ipvsSyncPeriod", "duration", "30s", "ipvs.syncPeriod", "file", "used", "How often IPVS rules are fully re-synchronized; must be greater than 0"],
  ["ipvs-min-sync-period", "ipvsMinSyncPeriod", "duration", "0s", "ipvs.minSyncPeriod", "file", "used", "The minimum period between IPVS rule resyncs"],
  ["ipvs-scheduler", "ipvsScheduler", "string", "rr", "ipvs.scheduler", "file", "used", "The IPVS scheduler: rr wrr lc wlc lblc lblcr dh sh sed nq mh fo ovf twos"],
  ["ipvs-exclude-cidrs", "ipvsExcludeCidrs", "list", "", "ipvs.excludeCIDRs", "file", "used", "Comma-separated CIDRs whose IPVS rules are never cleaned up"],
  ["ipvs-strict-arp", "ipvsStrictArp", "bool", "false", "ipvs.strictARP", "file", "used", "Enable strict ARP: arp_ignore=1 and arp_announce=2"],
  ["ipvs-tcp-timeout", "ipvsTcpTimeout", "duration", "0s", "ipvs.tcpTimeout", "file", "used", "The timeout for idle IPVS TCP connections, 0 to leave as-is"],
  ["ipvs-tcpfin-timeout", "ipvsTcpfinTimeout", "duration", "0s", "ipvs.tcpFinTimeout", "file", "used", "The timeout for IPVS TCP connections after a FIN, 0 to leave as-is"],
  ["ipvs-udp-timeout", "ipvsUdpTimeout", "duration", "0s", "ipvs.udpTimeout", "file", "used", "The timeout for IPVS UDP packets, 0 to leave as-is"],
  ["detect-local-mode", "detectLocalMode", "string", "ClusterCIDR", "detectLocalMode", "file", "used", "How to detect local traffic: ClusterCIDR, NodeCIDR (the Node's spec.podCIDRs), BridgeInterface or InterfaceNamePrefix"],
  ["pod-bridge-interface", "podBridgeInterface", "string", "", "detectLocal.bridgeInterface", "file", "used", "The bridge whose traffic is local, with --detect-local-mode=BridgeInterface"],
  ["pod-interface-name-prefix", "podInterfaceNamePrefix", "string", "", "detectLocal.interfaceNamePrefix", "file", "used", "The interface prefix whose traffic is local, with --detect-local-mode=InterfaceNamePrefix"],
  ["cluster-cidr", "clusterCidr", "string", "", "clusterCIDR", "file", "used", "The CIDR range of the pods (a dual-stack pair allowed); traffic from outside it is masqueraded"],
  ["nodeport-addresses", "nodeportAddresses", "list", "", "nodePortAddresses", "file", "used", "CIDRs, or 'primary', of the node IPs that accept NodePort connections"],
  ["oom-score-adj", "oomScoreAdj", "int", "-999", "oomScoreAdj", "file", "not-implemented", "The oom-score-adj value for the kube-proxy process, -1000..1000"],
  ["conntrack-max-per-core", "conntrackMaxPerCore", "int", "32768", "conntrack.maxPerCore", "file", "not-implemented", "Maximum number of NAT connections to track per CPU core (0 leaves the limit as-is)"],
  ["conntrack-min", "conntrackMin", "int", "131072", "conntrack.min", "file", "not-implemented", "Minimum number of conntrack entries to allocate"],
  ["conntrack-tcp-timeout-established", "conntrackTcpTimeoutEstablished", "duration", "24h0m0s", "conntrack.tcpEstablishedTimeout", "file", "not-implemented", "Idle timeout for established TCP connections (0 to leave as-is)"],
  ["conntrack-tcp-timeout-close-wait", "conntrackTcpTimeoutCloseWait", "duration", "1h0m0s", "conntrack.tcpCloseWaitTimeout", "file", "not-implemented", "NAT timeout for TCP connections in the CLOSE_WAIT state"],
  ["conntrack-tcp-be-liberal", "conntrackTcpBeLiberal", "bool", "false", "conntrack.tcpBeLiberal", "file", "not-implemented", "Enable liberal mode for tracking TCP packets (nf_conntrack_tcp_be_liberal=1)"],
  ["conntrack-udp-timeout", "conntrackUdpTimeout", "duration", "0s", "conntrack.udpTimeout", "file", "not-implemented", "Idle timeout for UNREPLIED UDP connections (0 to leave as-is)"],
  ["conntrack-udp-timeout-stream", "conntrackUdpTimeoutStream", "duration", "0s", "conntrack.udpStreamTimeout", "file", "not-implemented", "Idle timeout for ASSURED UDP connections (0 to leave as-is)"],
  ["config-sync-period", "configSyncPeriod", "duration", "15m0s", "configSyncPeriod", "file", "stored", "How often configuration from the apiserver is refreshed; must be greater than 0"],
  ["healthz-port", "healthzPort", "int", "10256", "healthzBindAddress", "file", "used", "Deprecated: the health check port; 0 disables it; fills in a bind address given without a port"],
  ["metrics-port", "metricsPort", "int", "10249", "metricsBindAddress", "file", "used", "Deprecated: the metrics port; 0 disables it; fills in a bind address given without a port"],
  ["v", "v", "int", "0", "logging.verbosity", "always", "used", "Number for the log level verbosity"],
  ["vmodule", "vmodule", "vmodule", "", "logging.vmodule", "always", "used", "Comma-separated pattern=N settings for file-filtered logging (pattern: file name without .ts)"],
  ["logging-format", "loggingFormat", "string", "text", "logging.format", "always", "used", "Sets the log format: text or json"],
  ["log-flush-frequency", "logFlushFrequency", "duration", "5s", "logging.flushFrequency", "always", "no-effect", "Maximum number of seconds between log flushes (lines are not buffered here)"],
  ["log-text-split-stream", "logTextSplitStream", "bool", "false", "logging.options.text.splitStream", "always", "not-implemented", "[Alpha] Info messages to stdout, errors to stderr, in text format"],
  ["log-text-info-buffer-size", "logTextInfoBufferSize", "string", "0", "logging.options.text.infoBufferSize", "always", "no-effect", "[Alpha] The size of the info stream's buffer with split streams"],
  ["log-json-split-stream", "logJsonSplitStream", "bool", "false", "logging.options.json.splitStream", "always", "not-implemented", "[Alpha] Info messages to stdout, errors to stderr, in JSON format"],
  ["log-json-info-buffer-size", "logJsonInfoBufferSize", "string", "0", "logging.options.json.infoBufferSize", "always", "no-effect", "[Alpha] The size of the info stream's buffer with split streams"],
] as const satisfies readonly Row[];

/** One row of the flag table, as a literal type (the source of {@link ProxyFlagOverrides}). */
export type KubeProxyFlagRow = typeof KUBE_PROXY_FLAG_ROWS[number];

/** The key of every kube-proxy flag that feeds the configuration (not the action flags). */
export type ProxyFlagKey = Exclude<
  Extract<KubeProxyFlagRow, { 5: "file" | "always" }>[1],
  "master"
>;

/**
 * kube-proxy's flags as given on the command line, unparsed; `undefined` means "not given".
 * Booleans are booleans; everything else is the text as typed (repeated list and map flags
 * joined with commas).
 */
export type ProxyFlagOverrides = {
  readonly [R in Extract<KubeProxyFlagRow, { 1: ProxyFlagKey }> as R[1]]?: R[2] extends "bool"
    ? boolean
    : string;
};

/** Every kube-proxy flag, in `--help` order. */
export const KUBE_PROXY_FLAGS: readonly KubeProxyFlag[] = KUBE_PROXY_FLAG_ROWS.map((
  [name, key, type, defaultText, field, role, effect, help],
) => ({
  name,
  key,
  type,
  defaultText,
  help,
  role,
  effect,
  ...(field === "" ? {} : { field }),
  ...(name === "v" ? { shorthand: "v" } : name === "help" ? { shorthand: "h" } : {}),
}));

/** The flag of each {@link ProxyFlagOverrides} key. */
export const FLAG_BY_KEY: ReadonlyMap<string, KubeProxyFlag> = new Map(
  KUBE_PROXY_FLAGS.map((flag) => [flag.key, flag]),
);

/** The command-line name (without `--`) of each {@link ProxyFlagOverrides} key. */
export const PROXY_FLAG_NAMES: Readonly<Record<ProxyFlagKey, string>> = Object.fromEntries(
  KUBE_PROXY_FLAGS.filter((flag) => flag.role !== "action" && flag.key !== "master")
    .map((flag) => [flag.key, flag.name]),
) as Record<ProxyFlagKey, string>;
