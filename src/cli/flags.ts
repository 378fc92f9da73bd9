/**
 * Command-line flags: this program's own (`--config`, `--manifests`, `--dry-run`, ...) and
 * kube-proxy's IPVS-mode flags, which are passed on raw to the config module to be checked
 * against, and to override, the config file.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { PROXY_FLAG_NAMES, type ProxyFlagOverrides } from "../config/load.ts";
import { parseGoBool } from "../config/feature_gates.ts";
import { canonicalIp, splitCommaList } from "../config/values.ts";

/** A bad command line: unknown flag, missing or bad value. The CLI exits with code 2. */
export class UsageError extends Error {
  /** Makes an error whose message says what was wrong and how to fix it. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** The parsed command line. */
export interface CliOptions {
  /** `--config FILE`; "" when not given. */
  readonly configFile: string;
  /** `--manifests PATH`, repeatable: files or directories of Services and EndpointSlices. */
  readonly manifests: string[];
  /** `--dry-run`: compute and print the plan, change nothing. */
  readonly dryRun: boolean;
  /** `--once`: one sync, then exit. */
  readonly once: boolean;
  /** `--output`. @default "text" */
  readonly output: "text" | "table" | "json";
  /** `--state FILE` for the dry-run backend's simulated kernel; "" when not given. */
  readonly stateFile: string;
  /** `--node-ip`, repeatable and comma lists, canonical. */
  readonly nodeIPs: string[];
  /** `--backend`; "" lets the CLI choose. */
  readonly backend: "" | "exec" | "dry-run" | "netlink";
  /** `--cleanup`: remove everything kube-proxy's IPVS mode creates. */
  readonly cleanup: boolean;
  /** `--help` / `-h`. */
  readonly help: boolean;
  /** `--master URL`: the API server, over the kubeconfig's; "" when not given. */
  readonly master: string;
  /** kube-proxy's flags, raw; only the given ones are set. */
  readonly proxyFlags: ProxyFlagOverrides;
}

const OUTPUTS = ["text", "table", "json"] as const;
const BACKENDS = ["exec", "dry-run", "netlink"] as const;

/** kube-proxy flags that are booleans; the others take a value. */
const BOOLEAN_PROXY_FLAGS: ReadonlySet<keyof ProxyFlagOverrides> = new Set([
  "ipvsStrictArp",
  "masqueradeAll",
]);

type OptionSpec = { type: "string" | "boolean"; multiple?: boolean; short?: string };

/** This program's own flags. `--hostname-override` is kube-proxy's and comes from the table. */
const OWN_OPTIONS: Record<string, OptionSpec> = {
  config: { type: "string" },
  manifests: { type: "string", multiple: true },
  "dry-run": { type: "boolean" },
  once: { type: "boolean" },
  output: { type: "string" },
  state: { type: "string" },
  "node-ip": { type: "string", multiple: true },
  backend: { type: "string" },
  cleanup: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  master: { type: "string" },
};

/** Every flag parseArgs knows. */
const OPTIONS: Record<string, OptionSpec> = {
  ...OWN_OPTIONS,
  ...Object.fromEntries(
    (Object.entries(PROXY_FLAG_NAMES) as [keyof ProxyFlagOverrides, string][]).map((
      [key, name],
    ) => [name, { type: BOOLEAN_PROXY_FLAGS.has(key) ? "boolean" : "string" }]),
  ),
};

/** This program's flags and their help, one line each. */
const OWN_HELP: ReadonlyArray<readonly [string, string]> = [
  ["--config FILE", `kube-proxy config: KubeProxyConfiguration or a kubeadm file`],
  ["--manifests PATH", `cluster objects: a YAML file or a directory of them (repeatable)`],
  ["--dry-run", `compute and print the changes, apply nothing`],
  ["--once", `sync once and exit`],
  ["--output text|table|json", `how --once or --cleanup prints its result (default text)`],
  ["--state FILE", `the dry-run backend's simulated kernel, kept between --once runs`],
  ["--node-ip IP", `this node's IP address(es); repeatable or comma-separated`],
  [
    "--backend exec|dry-run|netlink",
    `how to reach the kernel (default exec; dry-run with --dry-run)`,
  ],
  ["--cleanup", `remove all IPVS-mode rules, sets, addresses and exit`],
  ["-h, --help", `show this help`],
];

/** kube-proxy's flags and their help, one line each. */
const PROXY_HELP: ReadonlyArray<readonly [string, string]> = [
  ["--proxy-mode MODE", `proxy mode; only "ipvs" is supported (env KUBE_PROXY_MODE too)`],
  ["--ipvs-scheduler NAME", `rr wrr lc wlc lblc lblcr dh sh sed nq mh fo ovf twos (default rr)`],
  ["--ipvs-sync-period DURATION", `full sync interval, e.g. 30s (default 30s)`],
  ["--ipvs-min-sync-period DURATION", `minimum time between syncs, e.g. 1s (default 0s)`],
  ["--ipvs-exclude-cidrs CIDRS", `comma list of CIDRs whose virtual servers are never removed`],
  ["--ipvs-strict-arp[=BOOL]", `set arp_ignore=1 and arp_announce=2 (default false)`],
  ["--ipvs-tcp-timeout DURATION", `IPVS TCP idle timeout, 0s keeps the kernel's (default 0s)`],
  [
    "--ipvs-tcpfin-timeout DURATION",
    `IPVS TCP FIN_WAIT timeout, 0s keeps the kernel's (default 0s)`,
  ],
  ["--ipvs-udp-timeout DURATION", `IPVS UDP timeout, 0s keeps the kernel's (default 0s)`],
  ["--masquerade-all[=BOOL]", `SNAT all traffic to cluster IPs (default false)`],
  ["--iptables-masquerade-bit N", `fwmark bit 0..31 that marks packets for SNAT (default 14)`],
  ["--cluster-cidr CIDR[,CIDR]", `pod CIDR(s); traffic from outside them is masqueraded`],
  ["--nodeport-addresses CIDRS", `comma list of CIDRs, or "primary", that NodePorts listen on`],
  ["--hostname-override NAME", `this node's name (default: the host name)`],
  ["--healthz-bind-address IP:PORT", `health check server address (default 0.0.0.0:10256)`],
  ["--metrics-bind-address IP:PORT", `metrics server address (default 127.0.0.1:10249)`],
  ["--kubeconfig FILE", `kubeconfig of the API server to read the cluster from`],
  ["--master URL", `the API server's URL (over the kubeconfig's server)`],
  ["--feature-gates GATES", `e.g. SupportIPVSProxyMode=true (comma list of Name=bool)`],
];

/** Help lines with the descriptions in one column. */
function helpLines(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...[...OWN_HELP, ...PROXY_HELP].map(([flag]) => flag.length)) + 2;
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`).join("\n");
}

/** The help text: one line per flag. */
export const USAGE: string = `Usage: ipvs-proxy [flags]

kube-proxy's IPVS mode for Deno: reads a kube-proxy or kubeadm config file and cluster objects,
and keeps IPVS virtual servers, ipsets, iptables rules and kube-ipvs0 addresses in step.

Flags:
${helpLines(OWN_HELP)}

kube-proxy flags (they override the config file):
${helpLines(PROXY_HELP)}
`;

/**
 * Parses the command line.
 *
 * @example
 * ```ts
 * const options = parseFlags(["--config", "examples/kubeadm.yaml", "--dry-run", "--once"]);
 * options.output; // "text"
 * ```
 *
 * @throws {UsageError} for an unknown flag, a missing or bad value, or a positional argument.
 */
export function parseFlags(args: readonly string[]): CliOptions {
  const values = runParseArgs(goStyleBooleans(args));
  const text = (name: string) => values[name] as string | undefined;
  const on = (name: string) => values[name] === true;
  const options: CliOptions = {
    configFile: text("config") ?? "",
    manifests: (values.manifests as string[] | undefined) ?? [],
    dryRun: on("dry-run"),
    once: on("once"),
    output: oneOf("--output", text("output") ?? "text", OUTPUTS),
    stateFile: text("state") ?? "",
    nodeIPs: parseNodeIps((values["node-ip"] as string[] | undefined) ?? []),
    backend: text("backend") === undefined ? "" : oneOf("--backend", text("backend")!, BACKENDS),
    cleanup: on("cleanup"),
    help: on("help"),
    master: text("master") ?? "",
    proxyFlags: proxyFlags(values),
  };
  if (!options.help) checkCombinations(options);
  return options;
}

/**
 * Refuses flags that the rest of the command line would silently ignore or contradict: a
 * `--dry-run` that an explicit `--backend` would turn into real kernel changes, a `--state`
 * that no dry run loads or saves, and an `--output` format that only a single run prints.
 */
function checkCombinations(options: CliOptions): void {
  const dryRunBackend = options.backend === "dry-run" ||
    (options.backend === "" && options.dryRun);
  if (options.dryRun && options.backend !== "" && options.backend !== "dry-run") {
    throw new UsageError(
      `--dry-run cannot be combined with --backend ${options.backend}: ` +
        `drop one of them (--dry-run changes nothing, --backend ${options.backend} changes the kernel)`,
    );
  }
  if (options.stateFile !== "" && !dryRunBackend) {
    throw new UsageError(
      `--state ${JSON.stringify(options.stateFile)} is the dry-run backend's simulated kernel: ` +
        `add --dry-run, or drop --state`,
    );
  }
  const single = options.once || options.cleanup;
  if (options.stateFile !== "" && !single) {
    throw new UsageError(
      `--state ${JSON.stringify(options.stateFile)} is saved after one run: add --once`,
    );
  }
  if (options.output !== "text" && !single) {
    throw new UsageError(
      `--output ${options.output} prints the result of one run: add --once, or drop --output`,
    );
  }
}

/**
 * Rewrites Go-style `--masquerade-all=false` into what parseArgs understands
 * (`--no-masquerade-all`), as kube-proxy's flags accept `=true|false` on booleans.
 */
function goStyleBooleans(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const [index, arg] of args.entries()) {
    if (arg === "--") return [...out, ...args.slice(index)];
    const match = /^--([^=]+)=(.*)$/s.exec(arg);
    if (match === null || OPTIONS[match[1]]?.type !== "boolean") {
      out.push(arg);
      continue;
    }
    const value = parseGoBool(match[2]);
    if (value === undefined) {
      throw new UsageError(
        `flag '--${match[1]}' expects true or false, got ${JSON.stringify(match[2])}; ` +
          `write --${match[1]} or --${match[1]}=false`,
      );
    }
    out.push(value ? `--${match[1]}` : `--no-${match[1]}`);
  }
  return out;
}

/** Runs parseArgs strictly and turns its errors into UsageErrors worded for this program. */
function runParseArgs(args: string[]): Record<string, string | boolean | string[] | undefined> {
  try {
    return parseArgs({
      args,
      options: OPTIONS,
      strict: true,
      allowPositionals: false,
      allowNegative: true,
    }).values as Record<string, string | boolean | string[] | undefined>;
  } catch (error) {
    throw new UsageError(usageMessage(error as Error & { code?: string }), { cause: error });
  }
}

/** A parseArgs error in this program's words. */
function usageMessage(error: Error & { code?: string }): string {
  const quoted = /'([^' ]+)/.exec(error.message)?.[1] ?? "";
  switch (error.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag '${quoted}'; run with --help to list the flags`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument '${quoted}': ipvs-proxy takes only flags; ` +
        `run with --help to list them`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (error.message.includes("ambiguous")) {
        return `flag '${quoted}' needs a value; to pass one that starts with "-", ` +
          `write ${quoted}=VALUE`;
      }
      if (error.message.includes("does not take an argument")) {
        return `flag '${quoted}' does not take a value; write ${quoted} alone`;
      }
      return `flag '${quoted}' needs a value, like ${quoted}=VALUE`;
    default:
      return `${error.message}; run with --help to list the flags`;
  }
}

/** Checks a flag whose value is one of a fixed set. */
function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(
      `flag '${flag}' expects one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

/** `--node-ip` values: repeatable, each possibly a comma list; canonical text. */
function parseNodeIps(values: readonly string[]): string[] {
  return values.flatMap(splitCommaList).map((text) => {
    const ip = canonicalIp(text);
    if (ip === undefined) {
      throw new UsageError(
        `flag '--node-ip' expects IP addresses like 192.168.0.10 or fd00::10, ` +
          `got ${JSON.stringify(text)}`,
      );
    }
    return ip;
  });
}

/** The kube-proxy flags that were given, by their ProxyFlagOverrides key. */
function proxyFlags(values: Record<string, unknown>): ProxyFlagOverrides {
  const given: Record<string, string | boolean> = {};
  for (const [key, name] of Object.entries(PROXY_FLAG_NAMES)) {
    const value = values[name];
    if (typeof value === "string" || typeof value === "boolean") given[key] = value;
  }
  return given as ProxyFlagOverrides;
}
