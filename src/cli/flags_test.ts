import { assertEquals, assertThrows } from "../config/test_helpers.ts";
import { parseFlags, USAGE, UsageError } from "./flags.ts";
import { KUBE_PROXY_FLAGS } from "../config/flag_table.ts";

function test(name: string, fn: () => void): void {
  Deno.test({ name, permissions: "none", fn });
}

test("parseFlags() gives the defaults for an empty command line", () => {
  assertEquals(parseFlags([]), {
    configFile: "",
    manifests: [],
    dryRun: false,
    once: false,
    output: "text",
    stateFile: "",
    nodeIPs: [],
    backend: "",
    cleanup: false,
    help: false,
    master: "",
    version: false,
    versionRaw: false,
    initOnly: false,
    writeConfigTo: "",
    logging: { format: "text", verbosity: 0, vmodule: [] },
    proxyFlags: {},
  });
});

test("parseFlags() reads this program's own flags", () => {
  const options = parseFlags([
    "--config",
    "examples/kubeadm.yaml",
    "--manifests",
    "a.yaml",
    "--manifests=dir/",
    "--dry-run",
    "--once",
    "--output",
    "json",
    "--state",
    "/tmp/state.json",
    "--node-ip",
    "192.168.0.10,FD00::0010",
    "--node-ip=10.0.0.2",
    "--backend=dry-run",
    "--cleanup",
    "-h",
  ]);
  assertEquals(options.configFile, "examples/kubeadm.yaml");
  assertEquals(options.manifests, ["a.yaml", "dir/"]);
  assertEquals([options.dryRun, options.once, options.cleanup, options.help], [
    true,
    true,
    true,
    true,
  ]);
  assertEquals(options.output, "json");
  assertEquals(options.stateFile, "/tmp/state.json");
  assertEquals(options.nodeIPs, ["192.168.0.10", "fd00::10", "10.0.0.2"]);
  assertEquals(options.backend, "dry-run");
});

test("parseFlags() passes every kube-proxy flag on raw", () => {
  const options = parseFlags([
    "--proxy-mode=ipvs",
    "--ipvs-scheduler",
    "wrr",
    "--ipvs-sync-period=1m30s",
    "--ipvs-min-sync-period=1s",
    "--ipvs-exclude-cidrs=192.0.2.0/24,198.51.100.0/24",
    "--ipvs-strict-arp",
    "--ipvs-tcp-timeout=15m",
    "--ipvs-tcpfin-timeout=2m",
    "--ipvs-udp-timeout=5m",
    "--masquerade-all",
    "--iptables-masquerade-bit=14",
    "--cluster-cidr=10.244.16.0/24",
    "--nodeport-addresses=primary",
    "--hostname-override=Node-A",
    "--healthz-bind-address=0.0.0.0:10256",
    "--metrics-bind-address=127.0.0.1:10249",
    "--kubeconfig=/etc/kubernetes/proxy.conf",
    "--feature-gates=SupportIPVSProxyMode=true",
  ]);
  assertEquals(options.proxyFlags, {
    proxyMode: "ipvs",
    ipvsScheduler: "wrr",
    ipvsSyncPeriod: "1m30s",
    ipvsMinSyncPeriod: "1s",
    ipvsExcludeCidrs: "192.0.2.0/24,198.51.100.0/24",
    ipvsStrictArp: true,
    ipvsTcpTimeout: "15m",
    ipvsTcpfinTimeout: "2m",
    ipvsUdpTimeout: "5m",
    masqueradeAll: true,
    iptablesMasqueradeBit: "14",
    clusterCidr: "10.244.16.0/24",
    nodeportAddresses: "primary",
    hostnameOverride: "Node-A",
    healthzBindAddress: "0.0.0.0:10256",
    metricsBindAddress: "127.0.0.1:10249",
    kubeconfig: "/etc/kubernetes/proxy.conf",
    featureGates: "SupportIPVSProxyMode=true",
  });
});

test("parseFlags() accepts Go-style --masquerade-all=true|false on boolean flags", () => {
  assertEquals(parseFlags(["--masquerade-all=false"]).proxyFlags, { masqueradeAll: false });
  assertEquals(parseFlags(["--masquerade-all=true"]).proxyFlags, { masqueradeAll: true });
  assertEquals(parseFlags(["--ipvs-strict-arp=0"]).proxyFlags, { ipvsStrictArp: false });
  assertEquals(parseFlags(["--ipvs-strict-arp=T"]).proxyFlags, { ipvsStrictArp: true });
  assertEquals(parseFlags(["--dry-run=true"]).dryRun, true);
});

test("parseFlags() lets the last of repeated boolean flags win", () => {
  assertEquals(parseFlags(["--masquerade-all", "--masquerade-all=false"]).proxyFlags, {
    masqueradeAll: false,
  });
  assertEquals(parseFlags(["--masquerade-all=false", "--masquerade-all"]).proxyFlags, {
    masqueradeAll: true,
  });
});

test("parseFlags() rejects a boolean flag with a value that is not true or false", () => {
  assertThrows(
    () => parseFlags(["--masquerade-all=yes"]),
    UsageError,
    "'--masquerade-all'",
    '"yes"',
    "true or false",
  );
});

test("parseFlags() rejects unknown flags and says how to list the known ones", () => {
  assertThrows(() => parseFlags(["--proxy-mod=ipvs"]), UsageError, "'--proxy-mod'", "--help");
  assertThrows(() => parseFlags(["-x"]), UsageError, "'-x'");
});

test("parseFlags() rejects positional arguments", () => {
  assertThrows(() => parseFlags(["config.yaml"]), UsageError, "'config.yaml'", "only flags");
});

test("parseFlags() rejects a flag whose value is missing", () => {
  assertThrows(() => parseFlags(["--config"]), UsageError, "'--config' needs a value");
  assertThrows(() => parseFlags(["--config", "--once"]), UsageError, "'--config' needs a value");
});

test("parseFlags() rejects a value given to a boolean flag that is not Go-style", () => {
  assertThrows(() => parseFlags(["--once=later"]), UsageError, "'--once'", '"later"');
});

test("parseFlags() rejects an unknown --output or --backend and lists the choices", () => {
  assertThrows(
    () => parseFlags(["--output", "yaml"]),
    UsageError,
    "'--output'",
    "text, table, json",
    '"yaml"',
  );
  assertThrows(
    () => parseFlags(["--backend=kernel"]),
    UsageError,
    "exec, dry-run, netlink",
    '"kernel"',
  );
});

test("parseFlags() refuses a --dry-run that --backend would turn into kernel changes", () => {
  for (const backend of ["exec", "netlink"]) {
    assertThrows(
      () => parseFlags(["--cleanup", "--dry-run", "--backend", backend]),
      UsageError,
      `--dry-run cannot be combined with --backend ${backend}`,
    );
  }
  assertEquals(parseFlags(["--dry-run", "--backend=dry-run", "--once"]).backend, "dry-run");
});

test("parseFlags() refuses --state and --output where nothing would load, save or print them", () => {
  assertThrows(() => parseFlags(["--once", "--state=k.json"]), UsageError, "add --dry-run");
  assertThrows(
    () => parseFlags(["--once", "--backend=exec", "--state=k.json"]),
    UsageError,
    "add --dry-run",
  );
  assertThrows(() => parseFlags(["--dry-run", "--state=k.json"]), UsageError, "add --once");
  assertThrows(() => parseFlags(["--output=json"]), UsageError, "--output json", "add --once");
  assertThrows(() => parseFlags(["--output=table", "--dry-run"]), UsageError, "add --once");
  assertEquals(parseFlags(["--cleanup", "--dry-run", "--state=k.json"]).stateFile, "k.json");
  assertEquals(parseFlags(["--cleanup", "--output=json"]).output, "json");
  assertEquals(parseFlags(["--backend=dry-run", "--once", "--state=k.json"]).stateFile, "k.json");
});

test("parseFlags() rejects a bad --node-ip", () => {
  assertThrows(() => parseFlags(["--node-ip=10.0.0.300"]), UsageError, '"10.0.0.300"');
  assertThrows(() => parseFlags(["--node-ip", "10.0.0.1,node-a"]), UsageError, '"node-a"');
  assertThrows(() => parseFlags(["--node-ip=10.0.0.0/24"]), UsageError, '"10.0.0.0/24"');
});

test("USAGE lists every flag, one line each", () => {
  const own = ["config", "manifests", "dry-run", "once", "output", "state", "node-ip"];
  const flags = [...own, "backend", ...KUBE_PROXY_FLAGS.map((flag) => flag.name)];
  for (const flag of flags) {
    const lines = USAGE.split("\n").filter((line) =>
      line.trimStart().match(`^(-[hv], )?--${flag}(\\[|\\s|$)`)
    );
    assertEquals(lines.length, 1, `--${flag}`);
  }
});

/** A valid value of each flag type, for the test that every flag is accepted. */
const SAMPLE: Readonly<Record<string, string>> = {
  string: "x",
  int: "3",
  float: "5.5",
  duration: "1m30s",
  ip: "192.168.0.10",
  ipport: "0.0.0.0:10256",
  list: "10.0.0.0/8",
  map: "SupportIPVSProxyMode=true",
  vmodule: "sync_*=4",
};

test("parseFlags() accepts every Linux flag of kube-proxy, as --flag=value and --flag value", () => {
  for (const flag of KUBE_PROXY_FLAGS) {
    if (flag.role === "action") continue;
    const value = flag.name === "logging-format" ? "json" : SAMPLE[flag.type];
    const options = value === undefined
      ? parseFlags([`--${flag.name}`])
      : parseFlags([`--${flag.name}=${value}`]);
    const got = flag.name === "master" ? options.master : (options.proxyFlags as Record<
      string,
      unknown
    >)[flag.key];
    assertEquals(got, value ?? true, `--${flag.name}`);
    if (value !== undefined) parseFlags([`--${flag.name}`, value]);
  }
});

test("parseFlags() reads hack/local-up-cluster.sh's kube-proxy command line", () => {
  const options = parseFlags([
    "--v=3",
    "--config=/tmp/kube-proxy.yaml",
    "--master=https://localhost:6443",
    "--healthz-port=10256",
    "--metrics-port=10249",
  ]);
  assertEquals(options.logging.verbosity, 3);
  assertEquals(options.configFile, "/tmp/kube-proxy.yaml");
  assertEquals(options.master, "https://localhost:6443");
  assertEquals(options.proxyFlags, { v: "3", healthzPort: "10256", metricsPort: "10249" });
});

test("parseFlags() reads -v the ways pflag does: -v=3, -v 3, -v3, --v 3", () => {
  for (const args of [["-v=3"], ["-v", "3"], ["-v3"], ["--v", "3"], ["--v=3"]]) {
    assertEquals(parseFlags(args).logging.verbosity, 3, args.join(" "));
  }
  assertThrows(() => parseFlags(["-v=loud"]), UsageError, "'--v'", '"loud"');
});

test("parseFlags() reads --vmodule and --logging-format", () => {
  const options = parseFlags(["--vmodule=sync_*=4,main=2", "--logging-format", "json"]);
  assertEquals(options.logging, {
    format: "json",
    verbosity: 0,
    vmodule: [{ filePattern: "sync_*", verbosity: 4 }, { filePattern: "main", verbosity: 2 }],
  });
  assertThrows(() => parseFlags(["--logging-format=yaml"]), UsageError, "text, json");
  assertThrows(() => parseFlags(["--vmodule=sync"]), UsageError, "pattern=N");
});

test("parseFlags() appends repeated list and map flags and keeps the last of the others", () => {
  const options = parseFlags([
    "--ipvs-exclude-cidrs=10.0.0.0/8",
    "--ipvs-exclude-cidrs",
    "192.0.2.0/24",
    "--feature-gates=A=true",
    "--feature-gates=B=false",
    "--ipvs-scheduler=rr",
    "--ipvs-scheduler=lc",
  ]);
  assertEquals(options.proxyFlags, {
    ipvsExcludeCidrs: "10.0.0.0/8,192.0.2.0/24",
    featureGates: "A=true,B=false",
    ipvsScheduler: "lc",
  });
});

test("parseFlags() checks numbers, durations and IPs as pflag does, naming the flag", () => {
  assertThrows(() => parseFlags(["--kube-api-burst=many"]), UsageError, "'--kube-api-burst'");
  assertThrows(() => parseFlags(["--kube-api-qps=fast"]), UsageError, "'--kube-api-qps'");
  assertThrows(() => parseFlags(["--config-sync-period=soon"]), UsageError, "a duration");
  assertThrows(() => parseFlags(["--bind-address=node-a"]), UsageError, "'--bind-address'");
  assertEquals(parseFlags(["--oom-score-adj=-998"]).proxyFlags, { oomScoreAdj: "-998" });
  assertEquals(parseFlags(["--conntrack-max-per-core=0x10"]).proxyFlags, {
    conntrackMaxPerCore: "0x10",
  });
});

test("parseFlags() reads the action flags --version, --init-only and --write-config-to", () => {
  assertEquals(parseFlags(["--version"]).version, true);
  assertEquals(parseFlags(["--version=raw"]).versionRaw, true);
  assertEquals(parseFlags(["--version=false"]).version, false);
  assertEquals(parseFlags(["--init-only"]).initOnly, true);
  assertEquals(parseFlags(["--write-config-to", "/tmp/c.yaml"]).writeConfigTo, "/tmp/c.yaml");
  assertThrows(() => parseFlags(["--version=v1.31.0"]), UsageError, "'--version'");
});
