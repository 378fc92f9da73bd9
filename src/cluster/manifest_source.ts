/**
 * The cluster from manifest files: the only file I/O of `src/cluster`. Reads files and
 * directories of YAML/JSON manifests into a {@link ClusterSnapshot}, and watches them for the
 * sync loop.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { decodeManifestText } from "./decode.ts";
import { type ManifestDocument, parseObjects } from "./parse.ts";
import { buildSnapshot } from "./snapshot.ts";
import type { ClusterSnapshot, ObjectWarning } from "./types.ts";
import { quote } from "./validate.ts";

/** A manifest path cannot be read (missing, unreadable): the CLI exits with status 2. */
export class ManifestError extends Error {
  /** `message` names the path; `cause` is the file system error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ManifestError";
  }
}

/** What {@link loadManifests} returns. */
export interface LoadedManifests {
  /** Every valid object, sorted and frozen. */
  readonly snapshot: ClusterSnapshot;
  /** Skipped documents and objects, in file order. */
  readonly warnings: ObjectWarning[];
}

/** File name endings read when walking a directory (a file named directly is always read). */
export const MANIFEST_EXTENSIONS: readonly string[] = [".yaml", ".yml", ".json"];

/**
 * Reads every manifest under `paths` (files, or directories walked recursively with their files
 * sorted by path) into one snapshot. Objects defined twice keep their first definition, in the
 * order of `paths`.
 *
 * @throws {ManifestError} when a path does not exist or cannot be read.
 * @example
 * ```ts
 * const { snapshot, warnings } = await loadManifests(["examples/cluster"]);
 * ```
 */
export async function loadManifests(paths: readonly string[]): Promise<LoadedManifests> {
  const files = await listManifestFiles(paths);
  const documents: ManifestDocument[] = [];
  const warnings: ObjectWarning[] = [];
  for (const file of files) {
    const text = await readManifest(file);
    if (text === undefined) continue;
    const decoded = decodeManifestText(text, file);
    documents.push(...decoded.documents);
    warnings.push(...decoded.warnings);
  }
  const parsed = parseObjects(documents);
  const order = new Map(files.map((file, i) => [file, i]));
  const all = [...warnings, ...parsed.warnings];
  // Stable sort: syntax and object warnings of one file come together, files in read order.
  all.sort((a, b) => (order.get(a.source) ?? 0) - (order.get(b.source) ?? 0));
  return { snapshot: buildSnapshot(parsed), warnings: all };
}

/**
 * The files `loadManifests` reads for `paths`, in reading order, each once (a file reached
 * twice, say as `./a.yaml` and `a.yaml`, is read under the first name only).
 */
export async function listManifestFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const info = await statOrThrow(path);
    if (info.isDirectory) files.push(...(await walk(path, new Set())).sort());
    else files.push(path);
  }
  const seen = new Set<string>();
  const unique: string[] = [];
  for (const file of files) {
    const real = await Deno.realPath(file).catch(() => file);
    if (!seen.has(real)) unique.push(file);
    seen.add(real);
  }
  return unique;
}

async function statOrThrow(path: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    throw new ManifestError(
      `Cannot read manifests from ${quote(path)}: ${
        reason(error)
      }. Pass an existing file or directory.`,
      { cause: error },
    );
  }
}

/**
 * Files with a manifest extension under `dir`. Names starting with "." are skipped: a ConfigMap
 * volume holds every file twice, once through its `..data` directory.
 */
async function walk(dir: string, visited: Set<string>): Promise<string[]> {
  const files: string[] = [];
  try {
    const real = await Deno.realPath(dir);
    if (visited.has(real)) return []; // a symlink loop
    visited.add(real);
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(".")) continue;
      const path = dir.endsWith("/") ? `${dir}${entry.name}` : `${dir}/${entry.name}`;
      const info = entry.isSymlink ? await statOrUndefined(path) : entry;
      if (info?.isDirectory) files.push(...(await walk(path, visited)));
      else if (info?.isFile && MANIFEST_EXTENSIONS.some((ext) => entry.name.endsWith(ext))) {
        files.push(path);
      }
    }
  } catch (error) {
    if (error instanceof ManifestError) throw error;
    throw new ManifestError(`Cannot list manifests in ${quote(dir)}: ${reason(error)}`, {
      cause: error,
    });
  }
  return files;
}

/** A dangling symlink is skipped, like a file that is not there. */
async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** A file removed between listing and reading (an editor saving) is skipped, not an error. */
async function readManifest(file: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new ManifestError(`Cannot read manifest ${quote(file)}: ${reason(error)}`, {
      cause: error,
    });
  }
}

function reason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file or directory";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  return error instanceof Error ? error.message : String(error);
}

/** Options of {@link watchManifests}. */
export interface WatchOptions {
  /**
   * Quiet time after the last file event before `onChange` runs, so that one save (which
   * makes several events) gives one call.
   * @default {100}
   */
  readonly debounceMs?: number;
  /** Called if the watcher fails while open (it then stops); by default the error is dropped. */
  readonly onError?: (error: unknown) => void;
}

/** A running watch. */
export interface ManifestWatcher {
  /** Stops watching; no `onChange` call happens after it. Safe to call twice. */
  close(): void;
  /** Settles once the watch has stopped (after `close()` or a failure). */
  readonly closed: Promise<void>;
}

/**
 * Calls `onChange` (debounced) whenever a file under `paths` is created, changed, renamed or
 * removed. The caller then calls {@link loadManifests} again.
 *
 * @throws {ManifestError} when a path does not exist.
 */
export function watchManifests(
  paths: readonly string[],
  onChange: () => void,
  options: WatchOptions = {},
): ManifestWatcher {
  const debounceMs = options.debounceMs ?? 100;
  let targets: ReturnType<typeof watchTargets>;
  let watchers: Deno.FsWatcher[];
  try {
    targets = watchTargets(paths);
    watchers = [
      ...(targets.directories.length > 0
        ? [Deno.watchFs(targets.directories, { recursive: true })]
        : []),
      ...(targets.fileParents.length > 0
        ? [Deno.watchFs(targets.fileParents, { recursive: false })]
        : []),
    ];
  } catch (error) {
    throw new ManifestError(
      `Cannot watch manifests in ${paths.map(quote).join(", ")}: ${reason(error)}`,
      { cause: error },
    );
  }
  let open = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fire = () => {
    timer = undefined;
    if (open) onChange();
  };
  const relevant = (event: Deno.FsEvent) =>
    // "access" is the close after a write, already reported as "modify".
    event.kind !== "access" &&
    event.paths.some((path) => targets.isWatched(path));
  const follow = async (watcher: Deno.FsWatcher) => {
    try {
      for await (const event of watcher) {
        if (!relevant(event)) continue;
        clearTimeout(timer);
        timer = setTimeout(fire, debounceMs);
      }
    } catch (error) {
      if (open) options.onError?.(error);
    } finally {
      if (open) close();
    }
  };
  const closed = Promise.all(watchers.map(follow)).then(() => {});
  function close(): void {
    if (!open) return;
    open = false;
    clearTimeout(timer);
    for (const watcher of watchers) {
      try {
        watcher.close();
      } catch {
        // Already closed by a failure of the watcher itself.
      }
    }
  }
  return { close, closed };
}

/**
 * What to watch for `paths`: directories recursively; a single file through its parent
 * directory, because editors and `sed -i` save by renaming a new file over the old one, after
 * which a watch on the file itself sees nothing more.
 */
function watchTargets(paths: readonly string[]) {
  const directories: string[] = [];
  const files = new Set<string>();
  for (const path of paths) {
    const absolute = resolve(path);
    if (Deno.statSync(absolute).isDirectory) directories.push(absolute);
    else files.add(absolute);
  }
  const fileParents = [...new Set([...files].map(dirname))];
  const isWatched = (path: string) =>
    files.has(path) || directories.some((dir) => path === dir || path.startsWith(`${dir}/`));
  return { directories, fileParents, isWatched };
}
