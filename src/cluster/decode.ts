/**
 * One file's text -> its YAML documents (JSON is YAML, so JSON files go the same way). Pure.
 * A document with a syntax error is skipped with a warning giving its line and column; the
 * other documents of the file still load.
 *
 * Text that is one JSON value (what `kubectl get -o json` prints) is decoded with `JSON.parse`
 * first, about 50 times faster than the YAML reader's document model; only when that fails does
 * the YAML reader run, and its errors carry the line and column. In a JSON file a repeated key
 * keeps its last value, as the API server's own JSON decoder does.
 *
 * @module
 */

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

/**
 * The yaml library's message without its code excerpt and position suffix
 * (`Map keys must be unique at line 3, column 1:\n\n<excerpt>` -> `Map keys must be unique`).
 */
function firstLine(message: string): string {
  const line = message.split("\n", 1)[0];
  return line.replace(/ at line \d+, column \d+:?$/, "").replace(/[^\x20-\x7e]/g, "?");
}
