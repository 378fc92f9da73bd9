/**
 * `spec.ports` of a `v1` Service, checked the way the API server checks them: names are DNS-1123
 * labels (required and unique when there is more than one port), port numbers 1..65535, no two
 * ports with the same port and protocol, node ports only on NodePort and LoadBalancer services.
 *
 * @module
 */

import {
  fail,
  FieldError,
  type Fields,
  integerAt,
  isFields,
  join,
  portAt,
  stringAt,
} from "./fields.ts";
import type { Protocol, ServicePort, ServiceType } from "./types.ts";
import {
  DNS1123_LABEL_RULE,
  isDns1123Label,
  isIanaSvcName,
  isPortNumber,
  toProtocol,
} from "./validate.ts";

/** Reads `protocol` (TCP, UDP or SCTP; empty or absent means TCP) at `path`. */
export function protocolAt(raw: Fields, path: string): Protocol {
  const value = stringAt(raw, "protocol", path);
  if (value === undefined || value === "") return "tcp";
  return toProtocol(value) ?? fail(join(path, "protocol"), 'must be "TCP", "UDP" or "SCTP"', value);
}

/** Reads and checks `spec.ports`. */
export function parseServicePorts(list: readonly unknown[], type: ServiceType): ServicePort[] {
  const ports = list.map((raw, i) => parseServicePort(raw, `spec.ports[${i}]`, type));
  checkPortNames(ports);
  checkUnique(ports, "port", (p) => `${p.port}/${p.protocol.toUpperCase()}`);
  checkUnique(
    ports,
    "nodePort",
    (p) => p.nodePort === 0 ? undefined : `${p.nodePort}/${p.protocol.toUpperCase()}`,
  );
  return ports;
}

function parseServicePort(raw: unknown, path: string, type: ServiceType): ServicePort {
  if (!isFields(raw)) fail(path, "must be a mapping", raw);
  const name = stringAt(raw, "name", path) ?? "";
  if (name !== "" && !isDns1123Label(name)) fail(join(path, "name"), DNS1123_LABEL_RULE, name);
  const protocol = protocolAt(raw, path);
  const port = portAt(raw, "port", path);
  if (port === undefined) throw new FieldError(join(path, "port"), "is required");
  const nodePort = integerAt(raw, "nodePort", path, { min: 0, max: 65535 }) ?? 0;
  if (nodePort !== 0 && type !== "NodePort" && type !== "LoadBalancer") {
    fail(
      join(path, "nodePort"),
      `may only be set when spec.type is NodePort or LoadBalancer`,
      nodePort,
    );
  }
  return { name, protocol, port, targetPort: targetPortOf(raw, path, port), nodePort };
}

/** `targetPort`: a port number or an IANA service name; 0, "" or absent mean `port`. */
function targetPortOf(raw: Fields, path: string, port: number): number | string {
  const value = Object.hasOwn(raw, "targetPort") ? raw.targetPort : undefined;
  if (value === undefined || value === null || value === 0 || value === "") return port;
  if (typeof value === "number") {
    return isPortNumber(value)
      ? value
      : fail(join(path, "targetPort"), "must be a port number from 1 to 65535", value);
  }
  if (typeof value === "string" && isIanaSvcName(value)) return value;
  return fail(
    join(path, "targetPort"),
    "must be a port number or a port name (at most 15 lowercase letters, digits and '-', with at least one letter)",
    value,
  );
}

/** Names are optional for a single port, but required and unique when there are several. */
function checkPortNames(ports: readonly ServicePort[]): void {
  if (ports.length < 2) return;
  const seen = new Map<string, number>();
  ports.forEach((p, i) => {
    const field = `spec.ports[${i}].name`;
    if (p.name === "") {
      throw new FieldError(field, "is required when the service has more than one port");
    }
    const first = seen.get(p.name);
    if (first !== undefined) {
      fail(field, `must be unique (spec.ports[${first}] has it too)`, p.name);
    }
    seen.set(p.name, i);
  });
}

/** No two ports may share `field` and protocol (`key` gives `443/TCP`, or undefined to skip). */
function checkUnique(
  ports: readonly ServicePort[],
  field: string,
  key: (p: ServicePort) => string | undefined,
): void {
  const seen = new Map<string, number>();
  ports.forEach((p, i) => {
    const k = key(p);
    if (k === undefined) return;
    const first = seen.get(k);
    if (first !== undefined) {
      fail(
        `spec.ports[${i}].${field}`,
        `duplicates spec.ports[${first}] (same ${field} and protocol)`,
        k,
      );
    }
    seen.set(k, i);
  });
}
