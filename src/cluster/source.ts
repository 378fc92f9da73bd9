/**
 * The one seam between where cluster objects come from (manifest files, the Kubernetes API)
 * and the sync loop: a source says when its first snapshot is complete, gives the current
 * snapshot with what changed since the last read, and calls back on every change.
 *
 * @module
 */

import type { ClusterSnapshot } from "./types.ts";

/** One read of a source, with what changed since the read before. */
export interface SnapshotRead {
  /** Every valid object the source holds now. */
  readonly snapshot: ClusterSnapshot;
  /** Services added, removed or changed since the previous read (all of them at first). */
  readonly serviceChanges: number;
  /** EndpointSlices added, removed or changed since the previous read. */
  readonly endpointChanges: number;
}

/** Where the cluster's Services, EndpointSlices and Nodes come from. */
export interface ClusterSource {
  /** What it reads, for messages: `manifests examples/cluster`, `the API at https://...`. */
  readonly description: string;
  /**
   * Resolves once a complete snapshot can be read (every initial list done); rejects with
   * `signal.reason` if `signal` aborts first. No sync may happen before.
   */
  ready(signal: AbortSignal): Promise<void>;
  /** The current snapshot. */
  read(): Promise<SnapshotRead>;
  /** Calls `onChange` after every change; returns the unsubscribe. */
  subscribe(onChange: () => void): () => void;
  /** Stops following the cluster; the last snapshot stays readable. */
  close(): Promise<void>;
}
