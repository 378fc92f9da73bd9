/**
 * A `discovery.k8s.io/v1` EndpointSlice's body, normalised to {@link EndpointSlice}, with the
 * API's nil rules for conditions applied. Every check throws a {@link FieldError}; the caller
 * skips the slice whole.
 *
 * @module
 */

import {
  booleanAt,
  enumAt,
  fail,
  FieldError,
  type Fields,
  fieldsAt,
  isFields,
  join,
  listAt,
  portAt,
  stringAt,
  stringListAt,
} from "./fields.ts";
import { protocolAt } from "./parse_service_ports.ts";
import type { Endpoint, EndpointPort, EndpointSlice } from "./types.ts";
import {
  canonicalIp,
  DNS1123_LABEL_RULE,
  DNS1123_SUBDOMAIN_RULE,
  ipFamilyOf,
  isDns1123Label,
  isDns1123Subdomain,
  isLabelValue,
  specialIpReason,
} from "./validate.ts";

/** The label that ties a slice to its Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

type AddressType = EndpointSlice["addressType"];

/** Normalises an EndpointSlice whose identity has already been read and checked. */
export function parseEndpointSliceBody(
  obj: Fields,
  identity: { readonly namespace: string; readonly name: string; readonly source: string },
): EndpointSlice {
  const serviceName = serviceNameOf(obj);
  const rawType = stringAt(obj, "addressType", "");
  if (rawType === undefined || rawType === "") {
    throw new FieldError("addressType", 'is required: "IPv4", "IPv6" or "FQDN"');
  }
  const addressType = enumAt(obj, "addressType", "", ["IPv4", "IPv6", "FQDN"], "IPv4");
  return {
    namespace: identity.namespace,
    name: identity.name,
    serviceName,
    addressType,
    endpoints: listAt(obj, "endpoints", "").map((raw, i) =>
      parseEndpoint(raw, `endpoints[${i}]`, addressType)
    ),
    ports: portsOf(obj),
    source: identity.source,
    ...triggerTimeOf(obj),
  };
}

/** The annotation the EndpointSlice controller sets to when the change it carries began. */
export const TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time";

/**
 * `triggerTimeMs` from the trigger-time annotation (RFC 3339), for the network programming
 * latency metric; nothing when absent or not a time (it only feeds a metric).
 */
function triggerTimeOf(obj: Fields): { triggerTimeMs?: number } {
  const metadata = isFields(obj.metadata) ? obj.metadata : {};
  const annotations = isFields(metadata.annotations) ? metadata.annotations : {};
  const value = annotations[TRIGGER_TIME_ANNOTATION];
  const ms = typeof value === "string" ? Date.parse(value) : NaN;
  return Number.isNaN(ms) ? {} : { triggerTimeMs: ms };
}

function serviceNameOf(obj: Fields): string {
  const metadata = fieldsAt(obj, "metadata", "") ?? {};
  const labels = fieldsAt(metadata, "labels", "metadata") ?? {};
  const field = `metadata.labels[${JSON.stringify(SERVICE_NAME_LABEL)}]`;
  const value = Object.hasOwn(labels, SERVICE_NAME_LABEL) ? labels[SERVICE_NAME_LABEL] : undefined;
  if (value === undefined || value === null || value === "") {
    throw new FieldError(field, "is required: it names the Service this slice belongs to");
  }
  if (typeof value !== "string" || !isLabelValue(value)) {
    fail(field, "must be a label value (at most 63 of A-Z a-z 0-9 - _ .)", value);
  }
  return value;
}

function parseEndpoint(raw: unknown, path: string, addressType: AddressType): Endpoint {
  if (!isFields(raw)) fail(path, "must be a mapping", raw);
  const list = stringListAt(raw, "addresses", path);
  if (list.length < 1 || list.length > 100) {
    fail(join(path, "addresses"), "must hold from 1 to 100 addresses", list);
  }
  const addresses = list.map((value, i) =>
    addressOf(value, `${path}.addresses[${i}]`, addressType)
  );
  const conditions = fieldsAt(raw, "conditions", path) ?? {};
  const conditionsPath = join(path, "conditions");
  // kube-proxy's nil rules (endpointslicecache.go): ready and serving nil -> true,
  // terminating nil -> false.
  const ready = booleanAt(conditions, "ready", conditionsPath) ?? true;
  const serving = booleanAt(conditions, "serving", conditionsPath) ?? true;
  const terminating = booleanAt(conditions, "terminating", conditionsPath) ?? false;
  const nodeName = stringAt(raw, "nodeName", path) ?? "";
  if (nodeName !== "" && !isDns1123Subdomain(nodeName)) {
    fail(join(path, "nodeName"), DNS1123_SUBDOMAIN_RULE, nodeName);
  }
  return {
    addresses,
    conditions: { ready, serving, terminating },
    nodeName,
    ...hintsOf(raw, path),
  };
}

/** The API's limit on `forZones` and `forNodes` (`validateHints`). */
const MAX_HINTS = 8;

/**
 * `hints.forZones[].name` and `hints.forNodes[].name`, set only when present, so a slice
 * without hints reads as before. kube-proxy's `EndpointSliceCache.addEndpoints` turns them
 * into the zone and node hint sets that `CategorizeEndpoints` (pkg/proxy/topology.go) filters
 * on. Names are checked as the API checks them: zones are label values, nodes DNS subdomains.
 */
function hintsOf(
  raw: Fields,
  path: string,
): { zoneHints?: string[]; nodeHints?: string[] } {
  const hints = fieldsAt(raw, "hints", path);
  if (hints === undefined) return {};
  const hintsPath = join(path, "hints");
  const zoneHints = hintNames(hints, "forZones", hintsPath, isLabelValue, "a label value");
  const nodeHints = hintNames(hints, "forNodes", hintsPath, isDns1123Subdomain, "a node name");
  return {
    ...(zoneHints.length > 0 ? { zoneHints } : {}),
    ...(nodeHints.length > 0 ? { nodeHints } : {}),
  };
}

function hintNames(
  hints: Fields,
  key: "forZones" | "forNodes",
  path: string,
  valid: (name: string) => boolean,
  rule: string,
): string[] {
  const list = listAt(hints, key, path);
  if (list.length > MAX_HINTS) fail(join(path, key), `may hold at most ${MAX_HINTS} entries`, list);
  return list.map((entry, i) => {
    const entryPath = `${join(path, key)}[${i}]`;
    if (!isFields(entry)) fail(entryPath, "must be a mapping with a name", entry);
    const name = stringAt(entry, "name", entryPath);
    if (name === undefined || name === "" || !valid(name)) {
      fail(join(entryPath, "name"), `must be ${rule}`, name);
    }
    return name;
  });
}

function addressOf(value: string, field: string, addressType: AddressType): string {
  if (addressType === "FQDN") {
    return isDns1123Subdomain(value) ? value : fail(field, DNS1123_SUBDOMAIN_RULE, value);
  }
  const ip = canonicalIp(value);
  if (ip === undefined || ipFamilyOf(ip) !== addressType) {
    fail(field, `must be a valid ${addressType} address (the slice's addressType)`, value);
  }
  const special = specialIpReason(ip);
  return special === undefined ? ip : fail(field, special, value);
}

/** Ports whose `port` is nil are left out, as kube-proxy ignores them. */
function portsOf(obj: Fields): EndpointPort[] {
  const ports: EndpointPort[] = [];
  const names = new Map<string, number>();
  listAt(obj, "ports", "").forEach((raw, i) => {
    const path = `ports[${i}]`;
    if (!isFields(raw)) fail(path, "must be a mapping", raw);
    const name = stringAt(raw, "name", path) ?? "";
    if (name !== "" && !isDns1123Label(name)) fail(join(path, "name"), DNS1123_LABEL_RULE, name);
    const first = names.get(name);
    if (first !== undefined) {
      fail(join(path, "name"), `must be unique (ports[${first}] has it too)`, name);
    }
    names.set(name, i);
    const protocol = protocolAt(raw, path);
    const port = portAt(raw, "port", path);
    if (port !== undefined) ports.push({ name, protocol, port });
  });
  return ports;
}
