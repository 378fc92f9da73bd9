/**
 * The cluster's objects as the proxier reads them: manifests on disk -> a validated, normalised,
 * frozen {@link ClusterSnapshot}, with one {@link ObjectWarning} per object skipped.
 *
 * @example
 * ```ts
 * import { formatObjectWarning, loadManifests } from "./mod.ts";
 * const { snapshot, warnings } = await loadManifests(["examples/cluster"]);
 * for (const w of warnings) console.warn(formatObjectWarning(w));
 * ```
 *
 * @module
 */

export type * from "./types.ts";
export { type DecodedFile, decodeManifestText } from "./decode.ts";
export {
  listManifestFiles,
  type LoadedManifests,
  loadManifests,
  MANIFEST_EXTENSIONS,
  ManifestError,
  type ManifestWatcher,
  watchManifests,
  type WatchOptions,
} from "./manifest_source.ts";
export { formatObjectWarning } from "./object_warning.ts";
export { type ManifestDocument, type ParsedObjects, parseObjects } from "./parse.ts";
export { buildSnapshot, EMPTY_SNAPSHOT, type SnapshotInput } from "./snapshot.ts";
