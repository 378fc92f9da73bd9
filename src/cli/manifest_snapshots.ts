/**
 * The manifests as the sync loop sees them: read again for every sync (a periodic sync must
 * pick up an edit even if the file watcher missed it; unchanged files are not decoded again,
 * and bad input keeps the last good objects: see {@link ManifestReader}), with each distinct
 * set of warnings logged once, and the Services and EndpointSlices that changed since the last read counted
 * for kube-proxy's `*_changes_total` metrics.
 *
 * @module
 */

import { ManifestReader } from "../cluster/manifest_reader.ts";
import { listManifestFiles, watchManifests } from "../cluster/manifest_source.ts";
import { formatObjectWarning } from "../cluster/object_warning.ts";
import { type ClusterSource, type SnapshotRead, triggerOf } from "../cluster/source.ts";
import type { EndpointSlice } from "../cluster/types.ts";

export type { SnapshotRead } from "../cluster/source.ts";

interface Identified {
  readonly namespace: string;
  readonly name: string;
  readonly source: string;
}

type Fingerprints = Map<string, Identified>;

function fingerprints(objects: readonly Identified[]): Fingerprints {
  return new Map(objects.map((o) => [`${o.namespace}/${o.name}`, o]));
}

/** The same object read again from an unchanged file is the same value: no change. */
function sameObject(a: Identified | undefined, b: Identified): boolean {
  if (a === b) return true;
  // `source` names the file, which does not change what the proxier does with the object.
  return a !== undefined &&
    JSON.stringify({ ...a, source: "" }) === JSON.stringify({ ...b, source: "" });
}

/** The keys of the objects added, changed or removed between two reads. */
function changedKeys(before: Fingerprints, after: Fingerprints): string[] {
  const keys: string[] = [];
  for (const [key, value] of after) if (!sameObject(before.get(key), value)) keys.push(key);
  for (const key of before.keys()) if (!after.has(key)) keys.push(key);
  return keys;
}

/** Reads the manifests for each sync: the {@link ClusterSource} of `--manifests`. */
export class ManifestSnapshots implements ClusterSource {
  #lastWarnings = "";
  #services: Fingerprints = new Map();
  #slices: Fingerprints = new Map();

  readonly #reader: ManifestReader;

  constructor(readonly paths: readonly string[], readonly log: (line: string) => void) {
    this.#reader = new ManifestReader(paths);
  }

  /** `manifests a.yaml, dir/`. */
  get description(): string {
    return `manifests ${this.paths.join(", ")}`;
  }

  /**
   * Manifests are complete whenever they are read: ready once the paths exist.
   * @throws {ManifestError} when a path is missing, before anything touches the node.
   */
  async ready(): Promise<void> {
    await listManifestFiles(this.paths);
  }

  /** Watches the files (debounced); the periodic sync still reads them if the watch fails. */
  subscribe(onChange: () => void): () => void {
    const watcher = watchManifests(this.paths, onChange, {
      onError: (error) =>
        this.log(
          `warning: watching the manifests stopped (${error}); the periodic sync still reads them`,
        ),
    });
    return () => watcher.close();
  }

  /** Nothing to stop: each read is complete in itself. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Reads the manifests now. */
  async read(): Promise<SnapshotRead> {
    const { snapshot, warnings, kept } = await this.#reader.read();
    const lines = warnings.map(formatObjectWarning).join("\n");
    if (lines !== this.#lastWarnings && lines !== "") {
      for (const line of lines.split("\n")) this.log(`warning: ${line}`);
    }
    this.#lastWarnings = lines;
    // Kept objects are not what the files say: said at every read until the files are fixed.
    for (const line of kept) this.log(`warning: ${line}`);
    const services = fingerprints(snapshot.services);
    const slices = fingerprints(snapshot.endpointSlices);
    const changedSlices = changedKeys(this.#slices, slices);
    const read = {
      snapshot,
      serviceChanges: changedKeys(this.#services, services).length,
      endpointChanges: changedSlices.length,
      endpointTriggers: changedSlices.flatMap((key) =>
        triggerOf(slices.get(key) as EndpointSlice | undefined)
      ),
    };
    this.#services = services;
    this.#slices = slices;
    return read;
  }
}
