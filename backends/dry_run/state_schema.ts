/**
 * Checks that a parsed JSON value is a `KernelState`, naming the first bad field by path
 * (`virtualServers[2].port`), so a hand-edited state file fails with a clear message.
 *
 * @module
 */

import type {
  IpSet,
  IptablesFamilyState,
  IptablesTable,
  KernelState,
  RealServer,
  VirtualServer,
} from "../../src/state/types.ts";

/** Thrown for a value that is not a kernel state; `path` names the field. */
export class StateShapeError extends Error {
  /** Builds the error for the field at `path`. */
  constructor(readonly path: string, expected: string, got: unknown) {
    super(`${path}: expected ${expected}, got ${JSON.stringify(got) ?? String(got)}`);
    this.name = "StateShapeError";
  }
}

type Json = Record<string, unknown>;

function object(value: unknown, path: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StateShapeError(path, "an object", value);
  }
  return value as Json;
}

function array<T>(value: unknown, path: string, item: (v: unknown, p: string) => T): T[] {
  if (!Array.isArray(value)) throw new StateShapeError(path, "an array", value);
  return value.map((v, i) => item(v, `${path}[${i}]`));
}

function string(value: unknown, path: string): string {
  if (typeof value !== "string") throw new StateShapeError(path, "a string", value);
  return value;
}

function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new StateShapeError(path, `one of ${allowed.map((a) => `"${a}"`).join(", ")}`, value);
  }
  return value as T;
}

function integer(value: unknown, path: string, max: number): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > max) {
    throw new StateShapeError(path, `an integer from 0 to ${max}`, value);
  }
  return value as number;
}

function optionalCount(value: unknown, path: string): number | undefined {
  return value === undefined ? undefined : integer(value, path, 2 ** 32 - 1);
}

function realServer(value: unknown, path: string): RealServer {
  const o = object(value, path);
  const rs: RealServer = {
    address: string(o.address, `${path}.address`),
    port: integer(o.port, `${path}.port`, 65535),
    forward: oneOf(o.forward, `${path}.forward`, ["masq"]),
    weight: integer(o.weight, `${path}.weight`, 65535),
  };
  const active = optionalCount(o.activeConnections, `${path}.activeConnections`);
  const inactive = optionalCount(o.inactiveConnections, `${path}.inactiveConnections`);
  return {
    ...rs,
    ...(active === undefined ? {} : { activeConnections: active }),
    ...(inactive === undefined ? {} : { inactiveConnections: inactive }),
  };
}

function virtualServer(value: unknown, path: string): VirtualServer {
  const o = object(value, path);
  return {
    protocol: oneOf(o.protocol, `${path}.protocol`, ["tcp", "udp", "sctp"]),
    address: string(o.address, `${path}.address`),
    port: integer(o.port, `${path}.port`, 65535),
    scheduler: string(o.scheduler, `${path}.scheduler`),
    persistenceTimeout: integer(o.persistenceTimeout, `${path}.persistenceTimeout`, 2 ** 31 - 1),
    flags: array(o.flags, `${path}.flags`, string),
    service: string(o.service ?? "", `${path}.service`),
    realServers: array(o.realServers, `${path}.realServers`, realServer),
  };
}

function ipset(value: unknown, path: string): IpSet {
  const o = object(value, path);
  const types = ["hash:ip", "hash:ip,port", "hash:ip,port,ip", "hash:ip,port,net", "bitmap:port"];
  return {
    name: string(o.name, `${path}.name`),
    type: oneOf(o.type, `${path}.type`, types) as IpSet["type"],
    family: oneOf(o.family, `${path}.family`, ["inet", "inet6"]),
    comment: string(o.comment ?? "", `${path}.comment`),
    entries: array(o.entries, `${path}.entries`, string),
  };
}

function table(value: unknown, path: string): IptablesTable {
  const o = object(value, path);
  return {
    chains: array(o.chains, `${path}.chains`, (c, p) => {
      const chain = object(c, p);
      return {
        name: string(chain.name, `${p}.name`),
        rules: array(chain.rules, `${p}.rules`, string),
      };
    }),
    jumps: array(o.jumps, `${path}.jumps`, (j, p) => {
      const jump = object(j, p);
      return { chain: string(jump.chain, `${p}.chain`), rule: string(jump.rule, `${p}.rule`) };
    }),
  };
}

function familyState(value: unknown, path: string): IptablesFamilyState {
  const o = object(value, path);
  return { nat: table(o.nat, `${path}.nat`), filter: table(o.filter, `${path}.filter`) };
}

/** Returns `value` as a `KernelState` (a fresh copy) or throws {@linkcode StateShapeError}. */
export function toKernelState(value: unknown): KernelState {
  const o = object(value, "state");
  if (typeof o.linkPresent !== "boolean") {
    throw new StateShapeError("linkPresent", "true or false", o.linkPresent);
  }
  const iptables = object(o.iptables, "iptables");
  return {
    families: array(o.families, "families", (v, p) => oneOf(v, p, ["ipv4", "ipv6"] as const)),
    virtualServers: array(o.virtualServers, "virtualServers", virtualServer),
    ipsets: array(o.ipsets, "ipsets", ipset),
    iptables: {
      ipv4: familyState(iptables.ipv4, "iptables.ipv4"),
      ipv6: familyState(iptables.ipv6, "iptables.ipv6"),
    },
    linkPresent: o.linkPresent,
    addresses: array(o.addresses, "addresses", (v, p) => {
      const a = object(v, p);
      return {
        device: string(a.device, `${p}.device`),
        address: string(a.address, `${p}.address`),
      };
    }),
  };
}
