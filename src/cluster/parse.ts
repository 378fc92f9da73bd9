/**
 * Decoded manifest documents -> normalised Services, EndpointSlices and Nodes, plus one warning
 * per object that was skipped. Pure: the caller reads the files.
 *
 * Lists (`kind: List`, and `ServiceList`, `EndpointSliceList`, `NodeList` as
 * `kubectl get -o yaml` prints them, with kind-less items) are unpacked. Other kinds (Pod,
 * Deployment, Endpoints, ...) are ignored with one warning each, and so is a field the API does
 * not have. An invalid object is skipped whole;
 * the first of two objects with the same kind and namespace/name wins.
 *
 * @module
 */

import { FieldError, type Fields, fieldsAt, isFields, stringAt } from "./fields.ts";
import { unknownFields } from "./known_fields.ts";
import { parseEndpointSliceBody } from "./parse_endpoint_slice.ts";
import { parseNodeBody } from "./parse_node.ts";
import { parseServiceBody } from "./parse_service.ts";
import type { EndpointSlice, Node, ObjectWarning, Service } from "./types.ts";
import {
  DNS1035_LABEL_RULE,
  DNS1123_LABEL_RULE,
  DNS1123_SUBDOMAIN_RULE,
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  quote,
} from "./validate.ts";

/** One decoded YAML/JSON document. */
export interface ManifestDocument {
  /** The decoded value (`null` for an empty document, which is skipped silently). */
  readonly value: unknown;
  /** The file it came from. */
  readonly source: string;
  /** Its 1-based position in the file, shown as `document 3` when the object has no usable name. */
  readonly index: number;
}

/** What {@link parseObjects} returns: the valid objects in input order, and the warnings. */
export interface ParsedObjects {
  /** Valid Services, in input order. */
  readonly services: Service[];
  /** Valid EndpointSlices, in input order. */
  readonly endpointSlices: EndpointSlice[];
  /** Valid Nodes (bad addresses left out), in input order. */
  readonly nodes: Node[];
  /** One per skipped document, object or node address. */
  readonly warnings: ObjectWarning[];
}

type Kind = "Service" | "EndpointSlice" | "Node";

interface KindInfo {
  readonly apiVersion: string;
  /** The Kubernetes name rule for `metadata.name`. */
  readonly nameRule: { readonly test: (name: string) => boolean; readonly text: string };
  readonly namespaced: boolean;
}

const KINDS: Readonly<Record<Kind, KindInfo>> = {
  Service: {
    apiVersion: "v1",
    nameRule: { test: isDns1035Label, text: DNS1035_LABEL_RULE },
    namespaced: true,
  },
  EndpointSlice: {
    apiVersion: "discovery.k8s.io/v1",
    nameRule: { test: isDns1123Subdomain, text: DNS1123_SUBDOMAIN_RULE },
    namespaced: true,
  },
  Node: {
    apiVersion: "v1",
    nameRule: { test: isDns1123Subdomain, text: DNS1123_SUBDOMAIN_RULE },
    namespaced: false,
  },
};

/** List kinds whose items we read; `itemKind` is inferred for items that omit `kind`. */
const LISTS: Readonly<Record<string, { readonly apiVersion: string; readonly itemKind?: Kind }>> = {
  List: { apiVersion: "v1" },
  ServiceList: { apiVersion: "v1", itemKind: "Service" },
  EndpointSliceList: { apiVersion: "discovery.k8s.io/v1", itemKind: "EndpointSlice" },
  NodeList: { apiVersion: "v1", itemKind: "Node" },
};

/** Lists inside lists are unusual; the cap keeps a hostile file from recursing without end. */
const MAX_LIST_DEPTH = 4;

/** Where a value sits: its file, `document 3` or `document 3 items[1]`, and list defaults. */
interface Place {
  readonly source: string;
  readonly where: string;
  readonly inferred?: { readonly kind: Kind; readonly apiVersion: string };
  readonly depth: number;
}

/**
 * Normalises every Service, EndpointSlice and Node in `documents`.
 *
 * @example
 * ```ts
 * const { services, warnings } = parseObjects([{
 *   source: "svc.yaml",
 *   index: 1,
 *   value: { apiVersion: "v1", kind: "Service", metadata: { name: "web" },
 *     spec: { clusterIP: "10.0.0.80", ports: [{ port: 80 }] } },
 * }]);
 * // services[0].namespace === "default", services[0].ports[0].targetPort === 80
 * ```
 */
export function parseObjects(documents: readonly ManifestDocument[]): ParsedObjects {
  const parser = new Parser();
  for (const doc of documents) {
    if (doc.value === null || doc.value === undefined) continue;
    parser.visit(doc.value, { source: doc.source, where: `document ${doc.index}`, depth: 0 });
  }
  return parser.result;
}

class Parser {
  readonly result: ParsedObjects = { services: [], endpointSlices: [], nodes: [], warnings: [] };
  /** `Kind namespace/name` -> where it was first seen, for the duplicate warning. */
  readonly #seen = new Map<string, string>();

  visit(value: unknown, place: Place): void {
    if (!isFields(value)) {
      const expected = "must be a Kubernetes object (a mapping with apiVersion and kind)";
      return this.#warn(place, place.where, "", `${expected}, got ${quote(value)}`);
    }
    const kind = value.kind ?? place.inferred?.kind;
    const apiVersion = value.apiVersion ?? place.inferred?.apiVersion;
    if (typeof kind !== "string" || kind === "") {
      return this.#warn(place, place.where, "kind", `is required, got ${quote(kind)}`);
    }
    if (typeof apiVersion !== "string" || apiVersion === "") {
      return this.#warn(place, place.where, "apiVersion", `is required, got ${quote(apiVersion)}`);
    }
    if (Object.hasOwn(LISTS, kind)) return this.#visitList(value, kind, apiVersion, place);
    if (!Object.hasOwn(KINDS, kind)) {
      return this.#warn(place, otherObjectLabel(value, kind, place), "kind", notReadMessage(kind));
    }
    const info = KINDS[kind as Kind];
    if (apiVersion !== info.apiVersion) {
      if (groupOf(apiVersion) !== groupOf(info.apiVersion)) {
        // Another API's kind of the same name (a Knative Service): not ours, and said so.
        const message = `${quote(apiVersion)} is not the API of a Kubernetes ${kind} ` +
          `(${quote(info.apiVersion)}); ignored`;
        return this.#warn(place, otherObjectLabel(value, kind, place), "apiVersion", message);
      }
      // Same group, other version (discovery.k8s.io/v1beta1): the user meant it, so say why not.
      const message = `must be ${quote(info.apiVersion)} for a ${kind}, got ${quote(apiVersion)}`;
      return this.#warn(place, place.where, "apiVersion", message);
    }
    this.#visitObject(value, kind as Kind, place);
  }

  #visitList(list: Fields, kind: string, apiVersion: string, place: Place): void {
    const info = LISTS[kind];
    if (apiVersion !== info.apiVersion) {
      if (groupOf(apiVersion) !== groupOf(info.apiVersion)) return;
      const message = `must be ${quote(info.apiVersion)} for a ${kind}, got ${quote(apiVersion)}`;
      return this.#warn(place, place.where, "apiVersion", message);
    }
    if (place.depth >= MAX_LIST_DEPTH) {
      return this.#warn(place, place.where, "items", `lists nest deeper than ${MAX_LIST_DEPTH}`);
    }
    const items = Object.hasOwn(list, "items") ? list.items : undefined;
    if (items === undefined || items === null) return;
    if (!Array.isArray(items)) {
      return this.#warn(place, place.where, "items", `must be a list, got ${quote(items)}`);
    }
    const inferred = info.itemKind && { kind: info.itemKind, apiVersion: info.apiVersion };
    items.forEach((item, i) => {
      const where = `${place.where} items[${i}]`;
      this.visit(item, { source: place.source, where, inferred, depth: place.depth + 1 });
    });
  }

  #visitObject(obj: Fields, kind: Kind, place: Place): void {
    let identity: { namespace: string; name: string };
    try {
      identity = identityOf(obj, KINDS[kind]);
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      return this.#warn(place, place.where, error.field, error.message);
    }
    const label = KINDS[kind].namespaced
      ? `${kind} ${identity.namespace}/${identity.name}`
      : `${kind} ${identity.name}`;
    const first = this.#seen.get(label);
    if (first !== undefined) {
      const message = `duplicates the ${kind} already read from ${first}; this one is ignored`;
      return this.#warn(place, label, "metadata.name", message);
    }
    this.#seen.set(label, `${quote(place.source)} ${place.where}`);
    // What kube-proxy's informers never see (its label selector): another proxy's services
    // and headless ones. Left out quietly, as kube-proxy does, from files as from the API.
    if (kind !== "Node" && hasProxyExclusionLabel(obj)) return;
    try {
      this.#addObject(obj, kind, { ...identity, source: place.source }, place, label);
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      return this.#warn(place, label, error.field, error.message);
    }
    const unknown = unknownFields(kind, obj);
    if (unknown.length > 0) {
      const fields = unknown.map((f) => quote(f)).join(", ");
      const message = `${unknown.length === 1 ? "unknown field" : "unknown fields"} ${fields}: ` +
        `ignored (the API has no such field: a misspelling, or a field at the wrong level?)`;
      this.#warn(place, label, "", message);
    }
  }

  #addObject(
    obj: Fields,
    kind: Kind,
    identity: { namespace: string; name: string; source: string },
    place: Place,
    label: string,
  ): void {
    if (kind === "Service") this.result.services.push(parseServiceBody(obj, identity));
    else if (kind === "EndpointSlice") {
      this.result.endpointSlices.push(parseEndpointSliceBody(obj, identity));
    } else {
      const { node, problems } = parseNodeBody(obj, identity);
      for (const p of problems) {
        this.#warn(place, label, p.field, `${p.message}; ${p.skipped ?? "address skipped"}`);
      }
      this.result.nodes.push(node);
    }
  }

  #warn(place: Place, object: string, field: string, message: string): void {
    this.result.warnings.push({ source: place.source, object, field, message });
  }
}

/** `metadata.name` (by the kind's rule) and `metadata.namespace` ("default" when unset). */
function identityOf(obj: Fields, info: KindInfo): { namespace: string; name: string } {
  const metadata = fieldsAt(obj, "metadata", "") ?? {};
  const name = stringAt(metadata, "name", "metadata");
  if (name === undefined || name === "") throw new FieldError("metadata.name", "is required");
  if (!info.nameRule.test(name)) {
    throw new FieldError("metadata.name", `${info.nameRule.text}, got ${quote(name)}`);
  }
  if (!info.namespaced) return { namespace: "", name };
  const namespace = stringAt(metadata, "namespace", "metadata") || "default";
  if (!isDns1123Label(namespace)) {
    throw new FieldError("metadata.namespace", `${DNS1123_LABEL_RULE}, got ${quote(namespace)}`);
  }
  return { namespace, name };
}

/** `discovery.k8s.io/v1` -> `discovery.k8s.io`; `v1` (the core group) -> "". */
/** kube-proxy's label selector, `!service-proxy-name,!headless`, as a test on one object. */
export const PROXY_EXCLUSION_LABELS: readonly string[] = [
  "service.kubernetes.io/service-proxy-name",
  "service.kubernetes.io/headless",
];

function hasProxyExclusionLabel(obj: Fields): boolean {
  const metadata = isFields(obj.metadata) ? obj.metadata : {};
  const labels = isFields(metadata.labels) ? metadata.labels : {};
  return PROXY_EXCLUSION_LABELS.some((key) => Object.hasOwn(labels, key));
}

/** `Pod default/web`, or the document's place when the object has no usable name. */
function otherObjectLabel(obj: Fields, kind: string, place: Place): string {
  const metadata = isFields(obj.metadata) ? obj.metadata : {};
  const name = typeof metadata.name === "string" ? metadata.name : "";
  if (name === "") return place.where;
  const namespace = typeof metadata.namespace === "string" ? metadata.namespace : "";
  return namespace === "" ? `${kind} ${name}` : `${kind} ${namespace}/${name}`;
}

/** Why an object of another kind is not used: said once per object, never silently. */
function notReadMessage(kind: string): string {
  if (kind === "Endpoints") {
    return `${quote(kind)} is not read: kube-proxy reads EndpointSlices (discovery.k8s.io/v1) ` +
      "instead; ignored";
  }
  return `${quote(kind)} is not read (only Services, EndpointSlices and Nodes are); ignored`;
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}
