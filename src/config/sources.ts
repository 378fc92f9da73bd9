/**
 * Where each setting's value comes from: kube-proxy's precedence between the command line and
 * the config file, and the helpers every field reads its raw value through.
 *
 * kube-proxy ignores its configuration flags when `--config` is given; only the logging flags,
 * `--hostname-override` and `--master` still apply (and, here, `--kubeconfig`).
 *
 * @module
 */

import type { Located, ProxySection } from "./documents.ts";
import { getPath } from "./documents.ts";
import type { Origin } from "./errors.ts";
import { FLAG_BY_KEY, type ProxyFlagKey, type ProxyFlagOverrides } from "./flag_table.ts";
import { readString, readStringList, splitCommaList } from "./values.ts";

/** The file's section plus the flags that apply: everything a field needs to pick its value. */
export interface Sources {
  /** The config file's kube-proxy section (empty without a file). */
  readonly section: ProxySection;
  /** The flags that apply, after kube-proxy's precedence. */
  readonly flags: ProxyFlagOverrides;
  /** Whether a config file was given. */
  readonly fileGiven: boolean;
}

/** The flags that apply, and what to say about the others. */
export interface ApplicableFlags {
  /** The flags that take effect. */
  readonly flags: ProxyFlagOverrides;
  /** One warning per flag that `--config` overrides. */
  readonly warnings: string[];
  /** One line per applied flag that has no effect in IPVS mode (for the V(2) log). */
  readonly details: string[];
}

/** Fields an ignored flag's warning points at, when the flag is not a field of its own. */
const PORT_FIELDS: Readonly<Record<string, string>> = {
  healthzPort: "the port of healthzBindAddress",
  metricsPort: "the port of metricsBindAddress",
};

/**
 * kube-proxy's precedence: with a config file, every configuration flag but the `always` ones
 * (logging, `--hostname-override`, `--kubeconfig`) is ignored, each with one warning.
 *
 * @example
 * ```ts
 * const { flags, warnings } = applicableFlags({ ipvsScheduler: "lc", v: "2" }, "kube-proxy.yaml");
 * // flags: { v: "2" }; warnings: one naming --ipvs-scheduler and 'ipvs.scheduler'
 * ```
 */
export function applicableFlags(given: ProxyFlagOverrides, file: string): ApplicableFlags {
  const flags: Record<string, string | boolean> = {};
  const warnings: string[] = [];
  const details: string[] = [];
  for (const [key, value] of Object.entries(given)) {
    const flag = FLAG_BY_KEY.get(key);
    if (value === undefined || flag === undefined) continue;
    // kube-proxy uses --hostname-override only when non-empty: "" leaves the file's.
    if (key === "hostnameOverride" && value === "") continue;
    if (file !== "" && flag.role === "file") {
      const field = PORT_FIELDS[key] ?? `'${flag.field}'`;
      warnings.push(
        `command line: --${flag.name} is ignored because --config is given, as kube-proxy ` +
          `ignores it; set ${field} in ${file} instead`,
      );
      continue;
    }
    if (flag.effect === "no-effect") {
      details.push(`--${flag.name}=${String(value)} has no effect in IPVS mode: ${flag.help}`);
    }
    flags[key] = value;
  }
  return { flags: flags as ProxyFlagOverrides, warnings, details };
}

/** The origin of a flag's value, for messages: `command line: ... '--ipvs-sync-period'`. */
export function flagOrigin(key: ProxyFlagKey): Origin {
  return { file: "", field: `--${FLAG_BY_KEY.get(key)?.name ?? key}` };
}

/** The flag's value when it applies, else the file's when set (not null), else undefined. */
export function choose(
  src: Sources,
  path: string,
  flag: ProxyFlagKey | undefined,
): Located | undefined {
  const flagValue = flag === undefined ? undefined : src.flags[flag];
  if (flag !== undefined && flagValue !== undefined) {
    return { raw: flagValue, origin: flagOrigin(flag) };
  }
  const keys = path.split(".");
  const raw = getPath(src.section.fields, keys);
  if (raw === undefined || raw === null) return undefined;
  return { raw, origin: src.section.locate(keys) };
}

/** One field: read the chosen raw value, or use the default when nothing sets it. */
export function setting<T>(
  src: Sources,
  path: string,
  flag: ProxyFlagKey | undefined,
  read: (raw: unknown, origin: Origin) => T,
  fallback: T,
): T {
  const chosen = choose(src, path, flag);
  return chosen === undefined ? fallback : read(chosen.raw, chosen.origin);
}

/** True when the origin is a flag, whose lists are comma-separated text. */
export function fromFlag(origin: Origin): boolean {
  return origin.field.startsWith("--");
}

/** A list field: a YAML list in the file, a comma list on the command line. */
export function readList(raw: unknown, origin: Origin): string[] {
  return fromFlag(origin) ? splitCommaList(readString(raw, origin)) : readStringList(raw, origin);
}

/**
 * Wraps a reader so that a zero value in the file means the default, as kube-proxy's
 * defaulting does (`ipvs.syncPeriod: 0s` is 30s); a flag's zero stays zero.
 */
export function zeroMeansDefault<T>(
  read: (raw: unknown, origin: Origin) => T,
  fallback: T,
  isZero: (value: T) => boolean = (value) => value === 0 || value === "",
): (raw: unknown, origin: Origin) => T {
  return (raw, origin) => {
    const value = read(raw, origin);
    return !fromFlag(origin) && isZero(value) ? fallback : value;
  };
}
