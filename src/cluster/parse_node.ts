/**
 * A `v1` Node's addresses. Unlike Services and slices, one bad address does not skip the Node:
 * it is left out with a warning, because the API server does not validate node status strictly
 * and the other addresses are still right.
 *
 * @module
 */

import { type Fields, fieldsAt, isFields, listAt } from "./fields.ts";
import type { Node, NodeAddress } from "./types.ts";
import { canonicalCidr, canonicalIp, isLabelValue, quote } from "./validate.ts";

/** Address types whose value is an IP (canonicalised); other types are kept as written. */
const IP_ADDRESS_TYPES: ReadonlySet<string> = new Set(["InternalIP", "ExternalIP"]);

/** One skipped address: the field path and the reason. */
export interface NodeAddressProblem {
  /** The field path, e.g. `status.addresses[0].address`. */
  readonly field: string;
  /** What is wrong, with the bad value quoted. */
  readonly message: string;
  /** What is left out because of it. @default "address skipped" */
  readonly skipped?: string;
}

/** Normalises a Node whose name has already been read and checked. */
export function parseNodeBody(
  obj: Fields,
  identity: { readonly name: string; readonly source: string },
): { node: Node; problems: NodeAddressProblem[] } {
  const status = fieldsAt(obj, "status", "");
  const list = status ? listAt(status, "addresses", "status") : [];
  const addresses: NodeAddress[] = [];
  const problems: NodeAddressProblem[] = [];
  list.forEach((raw, i) => {
    const result = addressOf(raw, `status.addresses[${i}]`);
    if ("problem" in result) problems.push(result.problem);
    else addresses.push(result.address);
  });
  const node: Node = {
    name: identity.name,
    addresses,
    source: identity.source,
    ...eligibilityOf(obj),
    ...zoneOf(obj, problems),
    ...podCIDRsOf(obj, problems),
  };
  return { node, problems };
}

/** The label kube-proxy's `CategorizeEndpoints` reads the node's zone from (`v1.LabelTopologyZone`). */
export const ZONE_LABEL = "topology.kubernetes.io/zone";

/** The zone label, set only when present; a value that is no label value is left out. */
function zoneOf(obj: Fields, problems: NodeAddressProblem[]): { zone?: string } {
  const metadata = fieldsAt(obj, "metadata", "") ?? {};
  const labels = isFields(metadata.labels) ? metadata.labels : {};
  const zone = labels[ZONE_LABEL];
  if (zone === undefined) return {};
  if (typeof zone !== "string" || !isLabelValue(zone)) {
    problems.push({
      field: `metadata.labels[${JSON.stringify(ZONE_LABEL)}]`,
      message: `must be a label value, got ${quote(zone)}`,
      skipped: "label ignored",
    });
    return {};
  }
  return zone === "" ? {} : { zone };
}

/**
 * `spec.podCIDRs`, or the older single `spec.podCIDR` when the list is empty (the API keeps
 * them equal), canonical; set only when present. A bad CIDR is left out with a problem.
 */
function podCIDRsOf(obj: Fields, problems: NodeAddressProblem[]): { podCIDRs?: string[] } {
  const spec = isFields(obj.spec) ? obj.spec : {};
  const list = Array.isArray(spec.podCIDRs) ? spec.podCIDRs : [];
  const raw: { value: unknown; field: string }[] = list.length > 0
    ? list.map((value, i) => ({ value, field: `spec.podCIDRs[${i}]` }))
    : spec.podCIDR !== undefined && spec.podCIDR !== ""
    ? [{ value: spec.podCIDR, field: "spec.podCIDR" }]
    : [];
  const podCIDRs: string[] = [];
  for (const { value, field } of raw) {
    const cidr = typeof value === "string" ? canonicalCidr(value) : undefined;
    if (cidr === undefined) {
      problems.push({
        field,
        message: `must be a CIDR such as 10.244.1.0/24, got ${quote(value)}`,
        skipped: "CIDR skipped",
      });
    } else podCIDRs.push(cidr);
  }
  return podCIDRs.length > 0 ? { podCIDRs } : {};
}

/**
 * What kube-proxy's `/healthz` reads of its Node: being deleted, and the taints' keys (set
 * only when present, so a plain Node stays as it was).
 */
function eligibilityOf(obj: Fields): { deleting?: true; taintKeys?: string[] } {
  const metadata = fieldsAt(obj, "metadata", "") ?? {};
  const spec = isFields(obj.spec) ? obj.spec : {};
  const taints = Array.isArray(spec.taints) ? spec.taints : [];
  const taintKeys = taints.flatMap((t) => isFields(t) && typeof t.key === "string" ? [t.key] : []);
  return {
    ...(typeof metadata.deletionTimestamp === "string" ? { deleting: true as const } : {}),
    ...(taintKeys.length > 0 ? { taintKeys } : {}),
  };
}

function addressOf(
  raw: unknown,
  path: string,
): { address: NodeAddress } | { problem: NodeAddressProblem } {
  if (!isFields(raw)) return problem(path, "must be a mapping", raw);
  const type = raw.type;
  const address = raw.address;
  if (typeof type !== "string" || !/^[A-Za-z]+$/.test(type)) {
    return problem(`${path}.type`, "must be a word such as InternalIP or Hostname", type);
  }
  // Hostnames are kept as written, but never with spaces or control characters in them.
  if (typeof address !== "string" || !/^[\x21-\x7e]+$/.test(address)) {
    return problem(`${path}.address`, "must be a non-empty printable string", address);
  }
  if (!IP_ADDRESS_TYPES.has(type)) return { address: { type, address } };
  const ip = canonicalIp(address);
  if (ip === undefined) {
    return problem(`${path}.address`, `must be a valid IP address (type ${type})`, address);
  }
  return { address: { type, address: ip } };
}

function problem(field: string, expected: string, got: unknown): { problem: NodeAddressProblem } {
  return { problem: { field, message: `${expected}, got ${quote(got)}` } };
}
