/**
 * Command-line flags: this program's own (`--manifests`, `--dry-run`, `--once`, ...) and every
 * Linux flag of kube-proxy (the table in `src/config/flag_table.ts`), parsed the way Go's
 * pflag parses them: `--flag=value`, `--flag value`, `-v=3`, `-v 3`, `-v3`, booleans as
 * `--flag` or `--flag=true|false`. kube-proxy's flags are passed on raw to the config module,
 * which applies kube-proxy's precedence against the config file.
 *
 * @module
 */

import { type FlagType, KUBE_PROXY_FLAGS, type ProxyFlagOverrides } from "../config/flag_table.ts";
import { parseGoBool } from "../config/feature_gates.ts";
import { parseGoDuration } from "../config/duration.ts";
import { canonicalIp, parseGoInt, splitCommaList } from "../config/values.ts";
import { parseVModule } from "../config/sections.ts";
import type { VModuleConfig } from "../config/types.ts";
import denoJson from "../../deno.json" with { type: "json" };

/** This program's version, as `--version` prints it. */
export const VERSION: string = `v${denoJson.version}`;

/** A bad command line: unknown flag, missing or bad value. The CLI exits with code 2. */
export class UsageError extends Error {
  /** Makes an error whose message says what was wrong and how to fix it. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** The log settings the command line asks for (the config file's `logging` may add to them). */
export interface CliLogging {
  /** `--logging-format`. @default "text" */
  readonly format: "text" | "json";
  /** `--v` / `-v`. @default 0 */
  readonly verbosity: number;
  /** `--vmodule`. @default [] */
  readonly vmodule: readonly VModuleConfig[];
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
  /** `--master`: the API server's address, overriding the kubeconfig's; "" when not given. */
  readonly master: string;
  /** `--version` (or `--version=raw`): print the version and exit. */
  readonly version: boolean;
  /** `--version=raw`: print it as JSON. */
  readonly versionRaw: boolean;
  /** `--init-only`: open the backend (preflight, node preparation), then exit 0. */
  readonly initOnly: boolean;
  /** `--write-config-to FILE`: write the resolved config there and exit 0; "" when not given. */
  readonly writeConfigTo: string;
  /** The log settings from `--v`, `--vmodule` and `--logging-format`. */
  readonly logging: CliLogging;
  /** kube-proxy's configuration flags, raw; only the given ones are set. */
  readonly proxyFlags: ProxyFlagOverrides;
}

const OUTPUTS = ["text", "table", "json"] as const;
const BACKENDS = ["exec", "dry-run", "netlink"] as const;

/** How one flag is parsed: its type, whether it repeats, the key it lands under. */
interface FlagSpec {
  readonly name: string;
  readonly type: FlagType;
  /** `append` collects every value (comma-joined for kube-proxy's lists); `last` keeps one. */
  readonly repeat: "append" | "last";
}

/** This program's own flags; `--config`, `--cleanup` and `--help` are kube-proxy's. */
const OWN_FLAGS: readonly FlagSpec[] = [
  { name: "manifests", type: "string", repeat: "append" },
  { name: "dry-run", type: "bool", repeat: "last" },
  { name: "once", type: "bool", repeat: "last" },
  { name: "output", type: "string", repeat: "last" },
  { name: "state", type: "string", repeat: "last" },
  { name: "node-ip", type: "string", repeat: "append" },
  { name: "backend", type: "string", repeat: "last" },
];

const SPECS: ReadonlyMap<string, FlagSpec> = new Map([
  ...OWN_FLAGS.map((spec) => [spec.name, spec] as const),
  ...KUBE_PROXY_FLAGS.map((flag) =>
    [flag.name, {
      name: flag.name,
      type: flag.type,
      repeat: ["list", "map", "vmodule"].includes(flag.type) ? "append" : "last",
    } as FlagSpec] as const
  ),
]);

const SHORTHANDS: ReadonlyMap<string, string> = new Map(
  KUBE_PROXY_FLAGS.filter((flag) => flag.shorthand).map((flag) => [flag.shorthand!, flag.name]),
);

/** This program's flags and their help, one line each. */
const OWN_HELP: ReadonlyArray<readonly [string, string]> = [
  ["--manifests PATH", `cluster objects: a YAML file or a directory of them (repeatable)`],
  ["--dry-run", `compute and print the changes, apply nothing`],
  ["--once", `sync once and exit`],
  ["--output text|table|json", `how --once or --cleanup prints its result (default text)`],
  ["--state FILE", `the dry-run backend's simulated kernel, kept between --once runs`],
  ["--node-ip IP", `this node's IP address(es); repeatable or comma-separated`],
  [
    "--backend exec|dry-run|netlink",
    `how to reach the kernel (default netlink, exec where it cannot run; dry-run with --dry-run)`,
  ],
];

const TYPE_HINT: Readonly<Record<FlagType, string>> = {
  string: " string",
  bool: "[=BOOL]",
  int: " int",
  float: " float",
  duration: " duration",
  ip: " ip",
  ipport: " ip:port",
  list: " strings",
  map: " key=bool,...",
  vmodule: " pattern=N,...",
  version: "[=true|raw]",
};

const EFFECT_NOTE: Readonly<Record<string, string>> = {
  "no-effect": " [no effect in IPVS mode]",
  "not-implemented": " [not implemented yet: warns when set]",
  stored: " [kept for the API client]",
};

/** kube-proxy's flags and their help, one line each, from the flag table. */
function proxyHelp(): [string, string][] {
  return KUBE_PROXY_FLAGS.map((flag) => {
    const name = `${flag.shorthand ? `-${flag.shorthand}, ` : ""}--${flag.name}${
      TYPE_HINT[flag.type]
    }`;
    const fallback = flag.defaultText === "" || flag.defaultText === "false"
      ? ""
      : ` (default ${flag.defaultText})`;
    const ignored = flag.role === "file" ? " {ignored with --config}" : "";
    return [name, `${flag.help}${fallback}${EFFECT_NOTE[flag.effect] ?? ""}${ignored}`];
  });
}

/** Help lines with the descriptions in one column. */
function helpLines(rows: ReadonlyArray<readonly [string, string]>, width: number): string {
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`).join("\n");
}

function formatUsage(): string {
  const proxy = proxyHelp();
  const width = Math.max(...[...OWN_HELP, ...proxy].map(([flag]) => flag.length)) + 2;
  return `Usage: ipvs-proxy [flags]

kube-proxy's IPVS mode for Deno: reads a kube-proxy or kubeadm config file and cluster objects,
and keeps IPVS virtual servers, ipsets, iptables rules and kube-ipvs0 addresses in step.

Flags of this program (they always apply):
${helpLines(OWN_HELP, width)}

kube-proxy's flags, with kube-proxy's meaning. As in kube-proxy, with --config the file wins:
the flags marked {ignored with --config} are then ignored with a warning; the logging flags,
--hostname-override, --master and --kubeconfig still apply (--kubeconfig wins over
clientConnection.kubeconfig here; kube-proxy would ignore it).
${helpLines(proxy, width)}
`;
}

/** The help text: every flag, one line each. */
export const USAGE: string = formatUsage();

/** A value that does not parse as the flag's type, worded like pflag's error. */
function badValue(name: string, value: string, expected: string): UsageError {
  return new UsageError(
    `invalid argument ${JSON.stringify(value)} for '--${name}' flag: expected ${expected}`,
  );
}

/** Checks a value against its type, as pflag's `Set` does while parsing. */
function checkValue(spec: FlagSpec, value: string): string | boolean {
  const { name, type } = spec;
  if (type === "bool" || type === "version") {
    const parsed = parseGoBool(value);
    if (type === "version" && value === "raw") return "raw";
    if (parsed === undefined) {
      const choices = type === "version" ? "true, false or raw" : "true or false";
      throw new UsageError(
        `flag '--${name}' expects ${choices}, got ${JSON.stringify(value)}; ` +
          `write --${name} or --${name}=false`,
      );
    }
    return parsed;
  }
  if (type === "int" && parseGoInt(value) === undefined) throw badValue(name, value, "an integer");
  if (type === "float" && !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value.trim())) {
    throw badValue(name, value, "a number");
  }
  if (type === "duration") {
    try {
      parseGoDuration(value.trim());
    } catch (error) {
      throw badValue(name, value, `a duration like "30s" (${(error as Error).message})`);
    }
  }
  if (type === "ip" && canonicalIp(value.trim()) === undefined) {
    throw badValue(name, value, `an IP address like 0.0.0.0 or ::`);
  }
  return value;
}

/** Splits one argument into its flag name and inline value, or undefined for a positional. */
function splitArg(arg: string): { name: string; value?: string; display: string } | undefined {
  if (arg.startsWith("--") && arg.length > 2) {
    const equals = arg.indexOf("=");
    return equals < 0
      ? { name: arg.slice(2), display: arg }
      : { name: arg.slice(2, equals), value: arg.slice(equals + 1), display: arg.slice(0, equals) };
  }
  if (arg.startsWith("-") && arg.length > 1 && arg !== "--") {
    const short = arg[1];
    const rest = arg.slice(2);
    const name = SHORTHANDS.get(short) ?? `-${short}`;
    const value = rest.startsWith("=") ? rest.slice(1) : rest === "" ? undefined : rest;
    return { name, value, display: `-${short}` };
  }
  return undefined;
}

type Values = Map<string, (string | boolean)[]>;

/** Reads every argument into raw values per flag name. */
function readArgs(args: readonly string[]): Values {
  const values: Values = new Map();
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    const parts = splitArg(arg);
    if (arg === "--" || parts === undefined) {
      const shown = arg === "--" ? args[index + 1] ?? "--" : arg;
      throw new UsageError(
        `unexpected argument '${shown}': ipvs-proxy takes only flags; run with --help to list them`,
      );
    }
    const spec = SPECS.get(parts.name);
    if (spec === undefined) {
      throw new UsageError(`unknown flag '${parts.display}'; run with --help to list the flags`);
    }
    let value = parts.value;
    if (value === undefined && (spec.type === "bool" || spec.type === "version")) value = "true";
    if (value === undefined) {
      const next = args[index + 1];
      if (
        next === undefined || (next.startsWith("-") && splitArg(next) !== undefined &&
          SPECS.has(splitArg(next)!.name))
      ) {
        throw new UsageError(
          `flag '${parts.display}' needs a value, like ${parts.display}=VALUE`,
        );
      }
      value = next;
      index++;
    }
    const checked = checkValue(spec, value);
    const previous = spec.repeat === "append" ? values.get(spec.name) ?? [] : [];
    values.set(spec.name, [...previous, checked]);
  }
  return values;
}

/**
 * Parses the command line.
 *
 * @example
 * ```ts
 * const options = parseFlags(["--config", "examples/kubeadm.yaml", "--dry-run", "--once", "-v=2"]);
 * options.output; // "text"
 * options.logging.verbosity; // 2
 * ```
 *
 * @throws {UsageError} for an unknown flag, a missing or bad value, or a positional argument.
 */
export function parseFlags(args: readonly string[]): CliOptions {
  const values = readArgs(args);
  const last = (name: string) => values.get(name)?.at(-1);
  const text = (name: string) => last(name) as string | undefined;
  const on = (name: string) => last(name) === true || last(name) === "raw";
  const backend = text("backend");
  const options: CliOptions = {
    configFile: text("config") ?? "",
    manifests: (values.get("manifests") ?? []) as string[],
    dryRun: on("dry-run"),
    once: on("once"),
    output: oneOf("--output", text("output") ?? "text", OUTPUTS),
    stateFile: text("state") ?? "",
    nodeIPs: parseNodeIps((values.get("node-ip") ?? []) as string[]),
    backend: backend === undefined ? "" : oneOf("--backend", backend, BACKENDS),
    cleanup: on("cleanup"),
    help: on("help"),
    master: text("master") ?? "",
    version: on("version"),
    versionRaw: last("version") === "raw",
    initOnly: on("init-only"),
    writeConfigTo: text("write-config-to") ?? "",
    logging: cliLogging(values),
    proxyFlags: proxyFlags(values),
  };
  if (!options.help && !options.version) checkCombinations(options);
  return options;
}

/** `--logging-format`, `--v` and `--vmodule`, checked. */
function cliLogging(values: Values): CliLogging {
  const format = values.get("logging-format")?.at(-1) as string | undefined;
  const level = values.get("v")?.at(-1) as string | undefined;
  const verbosity = level === undefined ? 0 : parseGoInt(level) ?? -1;
  if (verbosity < 0) throw badValue("v", String(level), "a log level of 0 or more");
  const vmodule = values.get("vmodule") as string[] | undefined;
  let items: VModuleConfig[] = [];
  try {
    items = vmodule === undefined ? [] : parseVModule(vmodule.join(","), {
      file: "",
      field: "--vmodule",
    });
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  return {
    format: format === undefined ? "text" : oneOf("--logging-format", format, ["text", "json"]),
    verbosity,
    vmodule: items,
  };
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

/** The kube-proxy configuration flags that were given, by their ProxyFlagOverrides key. */
function proxyFlags(values: Values): ProxyFlagOverrides {
  const given: Record<string, string | boolean> = {};
  for (const flag of KUBE_PROXY_FLAGS) {
    const raw = values.get(flag.name);
    if (raw === undefined || flag.role === "action" || flag.name === "master") continue;
    given[flag.key] = flag.type === "bool" ? raw.at(-1) === true : raw.join(",");
  }
  return given as ProxyFlagOverrides;
}
