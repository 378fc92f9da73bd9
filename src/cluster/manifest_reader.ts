/**
 * The manifests as a long-running proxy reads them, again and again: a file whose size,
 * modification time and inode are unchanged is not read or decoded again, and bad input never
 * takes services away from the node:
 *
 * - a file caught half-written (a syntax error in any of its documents) keeps the objects of
 *   its last good version, with a warning at every read until it decodes again;
 * - a path that is missing, or holds no objects any more (an emptied directory, a truncated
 *   file), keeps the objects it last had, with a warning.
 *
 * Real edits apply: a removed document, a changed object, a file removed while its directory
 * still holds others.
 *
 * @module
 */

import { decodeManifestText } from "./decode.ts";
import { listManifestFiles } from "./manifest_source.ts";
import { type ParsedObjects, parseObjects } from "./parse.ts";
import { buildSnapshot } from "./snapshot.ts";
import type { ClusterSnapshot, EndpointSlice, Node, ObjectWarning, Service } from "./types.ts";
import { quote } from "./validate.ts";

/** One file's parsed objects, and what they were read from. */
interface FileEntry {
  /** `size:mtime:inode` of the version these objects came from. */
  readonly stamp: string;
  readonly parsed: ParsedObjects;
  /** True when some document did not decode. */
  readonly broken: boolean;
}

/** What one read found. */
export interface ManifestRead {
  /** Every valid object, sorted and frozen. */
  readonly snapshot: ClusterSnapshot;
  /** Object and syntax warnings of the files as they are now, in file order. */
  readonly warnings: readonly ObjectWarning[];
  /** Why some objects are the last good ones rather than what is on disk now, one line each. */
  readonly kept: readonly string[];
}

/** Stat a file; undefined if it went away. */
type Stat = (path: string) => Promise<Deno.FileInfo | undefined>;

async function statFile(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function stampOf(info: Deno.FileInfo): string {
  return `${info.size}:${info.mtime?.getTime() ?? 0}:${info.ino ?? 0}`;
}

function objectCount(parsed: ParsedObjects): number {
  return parsed.services.length + parsed.endpointSlices.length + parsed.nodes.length;
}

/**
 * Reads `paths` for each sync, decoding only what changed.
 *
 * @example
 * ```ts
 * import { ManifestReader } from "./manifest_reader.ts";
 * const reader = new ManifestReader(["examples/cluster"]);
 * const { snapshot } = await reader.read();
 * snapshot.services.length > 0; // true
 * ```
 */
export class ManifestReader {
  readonly #files = new Map<string, FileEntry>();
  /** Each path's files and objects at its last read that had objects. */
  readonly #lastGood = new Map<string, readonly string[]>();
  readonly #stat: Stat;
  /** Files decoded by the last read (unchanged ones are not): tests and benchmarks count them. */
  decodedLastRead = 0;

  constructor(readonly paths: readonly string[], stat: Stat = statFile) {
    this.#stat = stat;
  }

  /**
   * The objects under `paths` now.
   * @throws {ManifestError} on the first read when a path is missing or unreadable.
   */
  async read(): Promise<ManifestRead> {
    this.decodedLastRead = 0;
    const kept: string[] = [];
    const files: string[] = [];
    for (const path of this.paths) files.push(...await this.#filesOf(path, kept));
    const unique = [...new Set(files)];
    for (const file of this.#files.keys()) if (!unique.includes(file)) this.#files.delete(file);
    return { ...this.#assemble(unique), kept };
  }

  /** The files of `path`, or those it last had when it is missing or holds no objects now. */
  async #filesOf(path: string, kept: string[]): Promise<string[]> {
    const last = this.#lastGood.get(path);
    let files: string[];
    try {
      files = await listManifestFiles([path]);
    } catch (error) {
      if (last === undefined) throw error; // the first read: a bad path is bad input
      kept.push(
        `${quote(path)} cannot be read (${(error as Error).message}): keeping its last objects`,
      );
      return [...last];
    }
    const before = new Map((last ?? []).map((file) => [file, this.#files.get(file)]));
    for (const file of files) await this.#refresh(file, kept);
    const objects = files.reduce((n, f) => n + objectCount(this.#files.get(f)?.parsed ?? EMPTY), 0);
    if (objects === 0 && last !== undefined && last.length > 0) {
      // A truncated file was just decoded as empty: put its last objects back (with their old
      // stamp, so it is looked at again next time).
      for (const [file, entry] of before) if (entry) this.#files.set(file, entry);
      kept.push(`${quote(path)} holds no objects now: keeping its last objects`);
      return [...last];
    }
    // Only a read with objects becomes the one to fall back to; an empty one just lists files.
    if (objects > 0 || last === undefined) this.#lastGood.set(path, objects > 0 ? files : []);
    return files;
  }

  /** Decodes `file` again if it changed; a broken new version keeps the last good one. */
  async #refresh(file: string, kept: string[]): Promise<void> {
    const old = this.#files.get(file);
    const info = await this.#stat(file);
    if (info === undefined) return; // removed since it was listed: it keeps what it had
    const stamp = stampOf(info);
    if (old?.stamp === stamp) {
      if (old.broken) kept.push(`${quote(file)} does not decode: keeping its last good objects`);
      return;
    }
    const text = await Deno.readTextFile(file).catch(() => undefined);
    if (text === undefined) return;
    this.decodedLastRead++;
    const decoded = decodeManifestText(text, file);
    const parsed = parseObjects(decoded.documents);
    const broken = decoded.warnings.length > 0;
    const withSyntax = { ...parsed, warnings: [...decoded.warnings, ...parsed.warnings] };
    if (broken && old !== undefined && objectCount(old.parsed) > 0) {
      // Keep the last good objects, but show the file's current warnings and check again.
      this.#files.set(file, {
        stamp,
        parsed: { ...old.parsed, warnings: withSyntax.warnings },
        broken,
      });
      kept.push(`${quote(file)} does not decode: keeping its last good objects`);
      return;
    }
    this.#files.set(file, { stamp, parsed: freezeObjects(withSyntax), broken });
  }

  /** One snapshot of `files` in order; the first definition of an object wins. */
  #assemble(files: readonly string[]): Omit<ManifestRead, "kept"> {
    const firstSource = new Map<string, string>();
    const warnings: ObjectWarning[] = [];
    const first = <T extends { namespace?: string; name: string; source: string }>(
      kind: string,
      items: readonly T[],
    ) =>
      items.filter((o) => {
        const label = o.namespace === undefined
          ? `${kind} ${o.name}`
          : `${kind} ${o.namespace}/${o.name}`;
        const seen = firstSource.get(label);
        if (seen === undefined) {
          firstSource.set(label, o.source);
          return true;
        }
        const message = `duplicates the ${kind} already read from ${
          quote(seen)
        }; this one is ignored`;
        warnings.push({ source: o.source, object: label, field: "metadata.name", message });
        return false;
      });
    const services: Service[] = [];
    const endpointSlices: EndpointSlice[] = [];
    const nodes: Node[] = [];
    for (const file of files) {
      const parsed = this.#files.get(file)?.parsed ?? EMPTY;
      warnings.push(...parsed.warnings);
      services.push(...first("Service", parsed.services));
      endpointSlices.push(...first("EndpointSlice", parsed.endpointSlices));
      nodes.push(...first("Node", parsed.nodes));
    }
    return {
      snapshot: buildSnapshot({ services, endpointSlices, nodes }, { copy: false }),
      warnings,
    };
  }
}

const EMPTY: ParsedObjects = { services: [], endpointSlices: [], nodes: [], warnings: [] };

/** Freezes a file's objects once, so snapshots can share them without copies. */
function freezeObjects(parsed: ParsedObjects): ParsedObjects {
  buildSnapshot(parsed, { copy: false });
  return parsed;
}
