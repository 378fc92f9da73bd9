/**
 * One file's text -> its YAML documents (JSON is YAML, so JSON files go the same way). Pure.
 * A document with a syntax error is skipped with a warning giving its line and column; the
 * other documents of the file still load.
 *
 * Decoding is fast first, and pays for positions only when there is an error: text that is one
 * JSON value (what `kubectl get -o json` prints) goes through `JSON.parse`, other YAML through
 * js-yaml (YAML 1.2's core schema with `<<` merge keys, the same values as the `yaml` library
 * gives, 10 to 20 times faster); only when that fails, or when the text has anchors or aliases
 * (whose expansion the `yaml` library can bound), does the `yaml` library's document model run,
 * and its errors carry the line and column. In a JSON file a repeated key keeps its last value,
 * as the API server's own JSON decoder does; in YAML it is an error either way.
 *
 * @module
 */

// @ts-types="@types/js-yaml"
import jsyaml from "js-yaml";
import { LineCounter, parseAllDocuments } from "yaml";
import type { ManifestDocument } from "./parse.ts";
import type { ObjectWarning } from "./types.ts";

/** Aliases may repeat a node at most this often, against "billion laughs" documents. */
const MAX_ALIAS_COUNT = 100;

/** The documents of one file that decoded, and one warning per document that did not. */
export interface DecodedFile {
  /** The documents that decoded, in file order (an empty document has value `null`). */
  readonly documents: ManifestDocument[];
  /** One per document that did not decode (syntax error, alias bomb). */
  readonly warnings: ObjectWarning[];
}

/**
 * Splits `text` into documents and decodes each.
 *
 * @example
 * ```ts
 * const { documents, warnings } = decodeManifestText("a: 1\n---\nb: [\n", "x.yaml");
 * // documents: [{ value: { a: 1 }, source: "x.yaml", index: 1 }]
 * // warnings[0].message: "YAML syntax error at line 4, column 1: ..."
 * ```
 */
export function decodeManifestText(text: string, source: string): DecodedFile {
  const json = decodeJson(text);
  if (json !== undefined) return { documents: [{ value: json, source, index: 1 }], warnings: [] };
  const fast = decodeYamlFast(text, source);
  if (fast !== undefined) return { documents: fast, warnings: [] };
  const lineCounter = new LineCounter();
  // merge: Kubernetes' YAML reader (go-yaml) honours `<<` merge keys, so we do too.
  const parsed = parseAllDocuments(text, { lineCounter, merge: true, uniqueKeys: true });
  const documents: ManifestDocument[] = [];
  const warnings: ObjectWarning[] = [];
  let index = 0;
  for (const doc of parsed) {
    index++;
    const object = `document ${index}`;
    const error = doc.errors[0];
    if (error !== undefined) {
      const pos = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
      const message = `YAML syntax error at line ${pos.line}, column ${pos.col}: ${
        firstLine(error.message)
      }`;
      warnings.push({ source, object, field: "", message });
      continue;
    }
    try {
      documents.push({ value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), source, index });
    } catch (e) {
      // toJS throws on too many aliases (and on an alias to nothing): skip just this document.
      const reason = e instanceof Error ? firstLine(e.message) : String(e);
      warnings.push({ source, object, field: "", message: `cannot decode: ${reason}` });
    }
  }
  return { documents, warnings };
}

/** The value of a text that is one JSON object or array; undefined for anything else. */
function decodeJson(text: string): unknown {
  const start = text.trimStart()[0];
  if (start !== "{" && start !== "[") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // YAML flow syntax, or a JSON error: the YAML reader says where
  }
}

/** js-yaml's runtime `types` (missing from its type definitions). */
const JS_YAML_TYPES = (jsyaml as unknown as { types: { merge: jsyaml.Type } }).types;

/** YAML 1.2's core schema, as the `yaml` library reads it, with `<<` merge keys. */
const CORE_WITH_MERGE = jsyaml.CORE_SCHEMA.extend({ implicit: [JS_YAML_TYPES.merge] });

/** An anchor (`&a`) or alias (`*a`) where a node starts: left to the reader that bounds them. */
const ANCHOR_OR_ALIAS = /(?:^|[\s,[{])[&*][^\s,[\]{}]/;

/** Every document of a well-formed YAML text; undefined when the slow reader must look. */
function decodeYamlFast(text: string, source: string): ManifestDocument[] | undefined {
  if (ANCHOR_OR_ALIAS.test(text)) return undefined;
  try {
    const values = jsyaml.loadAll(text, undefined, { schema: CORE_WITH_MERGE });
    return values.map((value, i) => ({ value: value ?? null, source, index: i + 1 }));
  } catch {
    return undefined; // a syntax error: the yaml library says where
  }
}

/**
 * The yaml library's message without its code excerpt and position suffix
 * (`Map keys must be unique at line 3, column 1:\n\n<excerpt>` -> `Map keys must be unique`).
 */
function firstLine(message: string): string {
  const line = message.split("\n", 1)[0];
  return line.replace(/ at line \d+, column \d+:?$/, "").replace(/[^\x20-\x7e]/g, "?");
}
