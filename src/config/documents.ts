/**
 * Finds the kube-proxy configuration in a config file of one of three shapes: a lone
 * `KubeProxyConfiguration`, a kubeadm multi-document file (`ClusterConfiguration` +
 * `KubeProxyConfiguration`), or a 2018 kubeadm `MasterConfiguration` with `kubeProxy.config`.
 *
 * @module
 */

import { type Document, isMap, isScalar, LineCounter, parseAllDocuments } from "yaml";
import {
  ConfigError,
  describeOrigin,
  invalidValue,
  type Origin,
  rejectedValue,
  showValue,
} from "./errors.ts";

/** A raw value of the file and where it is. */
export interface Located {
  /** The value as YAML (or the command line) gave it. */
  readonly raw: unknown;
  /** Where it came from. */
  readonly origin: Origin;
}

/** The kube-proxy fields found in a file, still raw, and how to point at each of them. */
export interface ProxySection {
  /** The file name used in messages. */
  readonly file: string;
  /** The raw KubeProxyConfiguration fields; empty when the file has none. */
  readonly fields: Readonly<Record<string, unknown>>;
  /**
   * Where a field path (relative to the proxy config) is in the file, pointing at its value or,
   * with `at: "key"`, at its key; the origin's `field` is the full dotted path.
   */
  readonly locate: (path: readonly string[], at?: "key" | "value") => Origin;
  /** `networking.podSubnet` of a ClusterConfiguration or MasterConfiguration, when set. */
  readonly podSubnet?: Located;
  /** Problems that do not stop the proxy (ignored documents, YAML warnings). */
  readonly warnings: readonly string[];
}

const PROXY_API = "kubeproxy.config.k8s.io/v1alpha1";
const CLUSTER_APIS = ["v1beta1", "v1beta2", "v1beta3", "v1beta4"].map((v) => `kubeadm.k8s.io/${v}`);
const MASTER_APIS = ["kubeadm.k8s.io/v1alpha1", "kubeadm.k8s.io/v1alpha2"];
/** kubeadm and kubelet documents that may share the file and say nothing about the proxy. */
const IGNORED_KINDS = [
  "InitConfiguration",
  "JoinConfiguration",
  "ResetConfiguration",
  "UpgradeConfiguration",
  "KubeletConfiguration",
];

/** One YAML document with what is needed to point into it. */
interface Doc {
  readonly doc: Document;
  readonly value: Record<string, unknown>;
  readonly lines: LineCounter;
  readonly index: number;
}

/** What the documents of a file were found to hold. */
interface Found {
  proxy?: { doc: Doc; prefix: string[]; fields: Record<string, unknown> };
  cluster?: { doc: Doc; prefix: string[] };
  warnings: string[];
}

/**
 * Parses a config file's text and returns its kube-proxy section.
 *
 * @throws {ConfigError} on YAML syntax errors (with line and column), on documents of a known
 *   kind but an unknown apiVersion, and when the file holds none of the three shapes.
 */
export function readProxySection(file: string, text: string): ProxySection {
  const found: Found = { warnings: [] };
  for (const doc of parseDocuments(file, text, found.warnings)) classify(file, doc, found);
  const { proxy, cluster } = found;
  if (proxy === undefined && cluster === undefined) {
    throw new ConfigError(
      `${file}: no kube-proxy configuration found: expected a "kind: KubeProxyConfiguration" ` +
        `document (apiVersion ${PROXY_API}), a kubeadm file with one next to its ` +
        `ClusterConfiguration, or a 2018 kubeadm MasterConfiguration with kubeProxy.config`,
      { file, field: "kind", value: "" },
    );
  }
  if (proxy === undefined) {
    found.warnings.push(
      `${file}: no KubeProxyConfiguration document next to the ClusterConfiguration; ` +
        `using kube-proxy's defaults`,
    );
  }
  const podSubnetPath = [...(cluster?.prefix ?? []), "networking", "podSubnet"];
  const podSubnet = cluster === undefined ? undefined : getPath(cluster.doc.value, podSubnetPath);
  return {
    file,
    fields: proxy?.fields ?? {},
    locate: (path, at = "value") =>
      proxy === undefined
        ? { file, field: path.join(".") }
        : locateIn(file, proxy.doc, [...proxy.prefix, ...path], at),
    podSubnet: podSubnet === undefined || podSubnet === null || cluster === undefined
      ? undefined
      : { raw: podSubnet, origin: locateIn(file, cluster.doc, podSubnetPath) },
    warnings: found.warnings,
  };
}

/** Parses every document, turning the first syntax error into a ConfigError with its position. */
function parseDocuments(file: string, text: string, warnings: string[]): Doc[] {
  const lines = new LineCounter();
  const docs: Doc[] = [];
  parseAllDocuments(text, { lineCounter: lines }).forEach((doc, index) => {
    const error = doc.errors[0];
    if (error !== undefined) {
      const { line, col } = error.linePos?.[0] ?? { line: 1, col: 1 };
      const reason = error.message.split(" at line ")[0];
      throw new ConfigError(`${file}:${line}:${col}: invalid YAML: ${reason}; fix the syntax`, {
        file,
        field: "",
        value: "",
        line,
        column: col,
        cause: error,
      });
    }
    for (const warning of doc.warnings) {
      const { line, col } = warning.linePos?.[0] ?? { line: 1, col: 1 };
      warnings.push(`${file}:${line}:${col}: ${warning.message.split(" at line ")[0]}`);
    }
    const value = toPlain(file, doc);
    if (value === null) return; // an empty document, e.g. after a trailing "---"
    if (typeof value !== "object" || Array.isArray(value)) {
      throw invalidValue(
        locateIn(file, { doc, lines }, []),
        value,
        `expected document ${index + 1} to be a mapping with apiVersion and kind, got ${
          showValue(value)
        }`,
      );
    }
    docs.push({ doc, value: value as Record<string, unknown>, lines, index });
  });
  return docs;
}

/** The document as plain JavaScript; an unresolved alias becomes a ConfigError. */
function toPlain(file: string, doc: Document): unknown {
  try {
    return doc.toJS();
  } catch (error) {
    throw new ConfigError(`${file}: invalid YAML: ${(error as Error).message}; fix the syntax`, {
      file,
      field: "",
      value: "",
      cause: error,
    });
  }
}

/** Records what one document is: proxy config, cluster config, ignored, or unknown. */
function classify(file: string, doc: Doc, found: Found): void {
  const kind = doc.value.kind;
  const origin = locateIn(file, doc, ["kind"]);
  if (typeof kind !== "string" || kind === "") {
    throw rejectedValue(
      origin,
      kind,
      `document ${doc.index + 1} has no kind; add "kind: KubeProxyConfiguration" and ` +
        `"apiVersion: ${PROXY_API}"`,
    );
  }
  if (kind === "KubeProxyConfiguration") {
    requireApi(file, doc, [PROXY_API]);
    setProxy(file, doc, [], found);
  } else if (kind === "ClusterConfiguration") {
    requireApi(file, doc, CLUSTER_APIS);
    setCluster(file, doc, [], found);
  } else if (kind === "MasterConfiguration") {
    requireApi(file, doc, MASTER_APIS);
    setCluster(file, doc, [], found);
    setProxy(file, doc, ["kubeProxy", "config"], found);
  } else if (!IGNORED_KINDS.includes(kind)) {
    found.warnings.push(
      `${describeOrigin(origin)}: document ${doc.index + 1} of kind ${showValue(kind)} is ignored`,
    );
  }
}

/** Rejects a known kind with an apiVersion this program does not read. */
function requireApi(file: string, doc: Doc, apis: readonly string[]): void {
  const api = doc.value.apiVersion;
  if (typeof api !== "string" || !apis.includes(api)) {
    throw rejectedValue(
      locateIn(file, doc, ["apiVersion"]),
      api,
      `unsupported apiVersion ${showValue(api)} for kind ${showValue(doc.value.kind)}; ` +
        `use ${apis.join(" or ")}`,
    );
  }
}

/** Takes the proxy fields at `prefix`; a second proxy configuration is an error. */
function setProxy(file: string, doc: Doc, prefix: string[], found: Found): void {
  const origin = locateIn(file, doc, prefix.length === 0 ? ["kind"] : prefix);
  if (found.proxy !== undefined) {
    throw rejectedValue(
      origin,
      doc.value.kind,
      `a second kube-proxy configuration (in ${showValue(doc.value.kind)}); keep only one`,
    );
  }
  const fields = prefix.length === 0 ? doc.value : getPath(doc.value, prefix);
  if (fields !== undefined && fields !== null && !isRecord(fields)) {
    throw invalidValue(origin, fields, `expected a mapping, got ${showValue(fields)}`);
  }
  found.proxy = { doc, prefix, fields: (fields ?? {}) as Record<string, unknown> };
}

/** Takes the cluster configuration (for podSubnet); a second one is an error. */
function setCluster(file: string, doc: Doc, prefix: string[], found: Found): void {
  if (found.cluster !== undefined) {
    throw rejectedValue(
      locateIn(file, doc, ["kind"]),
      doc.value.kind,
      `a second ${showValue(doc.value.kind)}; keep one ClusterConfiguration or ` +
        `MasterConfiguration`,
    );
  }
  found.cluster = { doc, prefix };
}

/** True for a plain mapping (not null, not a list). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value at a path of nested mappings, or undefined when any step is missing. */
export function getPath(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

/**
 * The origin of the value at `path` in a document: its line and column when the path exists,
 * else those of the deepest mapping on the way.
 */
function locateIn(
  file: string,
  doc: Pick<Doc, "doc" | "lines">,
  path: readonly string[],
  at: "key" | "value" = "value",
): Origin {
  let node: unknown = doc.doc.contents;
  let offset = (node as { range?: [number, number, number] } | null)?.range?.[0];
  for (const key of path) {
    if (!isMap(node)) break;
    const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
    if (pair === undefined) break;
    const valueRange = (pair.value as { range?: [number, number, number] } | null)?.range;
    const keyRange = (pair.key as { range?: [number, number, number] }).range;
    // An empty value ("x:") has a zero-width range at the line's end: point at the key then.
    // Only the last step's choice matters; earlier ones are overwritten.
    offset = at === "value" && valueRange !== undefined && valueRange[1] > valueRange[0]
      ? valueRange[0]
      : keyRange?.[0];
    node = pair.value;
  }
  const field = path.join(".");
  if (offset === undefined) return { file, field };
  const { line, col } = doc.lines.linePos(offset);
  return { file, field, line, column: col };
}
