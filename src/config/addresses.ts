/**
 * `bindAddress`, `healthzBindAddress` and `metricsBindAddress`, with the deprecated
 * `--healthz-port` / `--metrics-port` as kube-proxy combines them (`addressFromDeprecatedFlags`):
 * without `--config`, port 0 disables the server, and another port fills in a bind address
 * given without one; an address that already has a port keeps it.
 *
 * @module
 */

import type { ProxyConfig } from "./types.ts";
import type { Origin } from "./errors.ts";
import type { ProxyFlagKey } from "./flag_table.ts";
import { choose, flagOrigin, fromFlag, setting, type Sources } from "./sources.ts";
import { readBindAddress, readInteger, readIp } from "./values.ts";

type Addresses = Pick<ProxyConfig, "bindAddress" | "healthzBindAddress" | "metricsBindAddress">;

/** Whether an address text names a port: `1.2.3.4:80`, `[::1]:80`. */
function hasPort(text: string): boolean {
  return /^\[[^\]]*\]:\d*$/.test(text) || text.split(":").length === 2;
}

/** The address with its port replaced. */
function withPort(address: string, port: number): string {
  return `${address.slice(0, address.lastIndexOf(":"))}:${port}`;
}

/** One server address: the flag or file value, the default, then the port flag. */
function serverAddress(
  src: Sources,
  field: "healthzBindAddress" | "metricsBindAddress",
  portFlag: ProxyFlagKey,
  fallback: string,
  warnings: string[],
): string {
  const chosen = choose(src, field, field);
  const text = chosen === undefined ? fallback : String(chosen.raw).trim();
  // "" from the file means the default (kube-proxy's defaulting); from a flag it disables.
  if (chosen !== undefined && fromFlag(chosen.origin) && text === "") return "";
  const address = chosen === undefined
    ? fallback
    : readBindAddress(chosen.raw, chosen.origin, fallback);
  const portText = src.flags[portFlag];
  if (portText === undefined) return address;
  const port = readInteger(portText, flagOrigin(portFlag), 0, 65535);
  if (port === 0) return "";
  if (chosen !== undefined && text !== "" && !hasPort(text)) return withPort(address, port);
  if (address.endsWith(`:${port}`)) return address;
  const name = portFlag === "healthzPort" ? "healthz" : "metrics";
  warnings.push(
    `command line: --${name}-port=${port} has no effect: ${field} ${address} already has a ` +
      `port (kube-proxy only fills in a missing one); use --${name}-bind-address=${
        withPort(address, port)
      }`,
  );
  return address;
}

/** The three addresses; an IPv6 bindAddress makes the defaults `[::]:10256` and `[::1]:10249`. */
export function resolveAddresses(src: Sources, warnings: string[]): Addresses {
  const bindAddress = setting(
    src,
    "bindAddress",
    "bindAddress",
    (raw: unknown, origin: Origin) => readIp(raw, origin, "0.0.0.0"),
    "0.0.0.0",
  );
  const v6 = bindAddress.includes(":");
  return {
    bindAddress,
    healthzBindAddress: serverAddress(
      src,
      "healthzBindAddress",
      "healthzPort",
      v6 ? "[::]:10256" : "0.0.0.0:10256",
      warnings,
    ),
    metricsBindAddress: serverAddress(
      src,
      "metricsBindAddress",
      "metricsPort",
      v6 ? "[::1]:10249" : "127.0.0.1:10249",
      warnings,
    ),
  };
}
