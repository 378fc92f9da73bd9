/**
 * A `v1` Node's addresses. Unlike Services and slices, one bad address does not skip the Node:
 * it is left out with a warning, because the API server does not validate node status strictly
 * and the other addresses are still right.
 *
 * @module
 */

import { type Fields, fieldsAt, isFields, listAt } from "./fields.ts";
import type { Node, NodeAddress } from "./types.ts";
import { canonicalIp, quote } from "./validate.ts";

/** Address types whose value is an IP (canonicalised); other types are kept as written. */
const IP_ADDRESS_TYPES: ReadonlySet<string> = new Set(["InternalIP", "ExternalIP"]);

/** One skipped address: the field path and the reason. */
export interface NodeAddressProblem {
  /** The field path, e.g. `status.addresses[0].address`. */
  readonly field: string;
  /** What is wrong, with the bad value quoted. */
  readonly message: string;
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
  };
  return { node, problems };
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
