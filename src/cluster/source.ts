/**
 * The one seam between where cluster objects come from (manifest files, the Kubernetes API)
 * and the sync loop: a source says when its first snapshot is complete, gives the current
 * snapshot with what changed since the last read, and calls back on every change.
 *
 * @module
 */

import type { ClusterSnapshot, EndpointSlice } from "./types.ts";

/** One read of a source, with what changed since the read before. */
export interface SnapshotRead {
  /** Every valid object the source holds now. */
  readonly snapshot: ClusterSnapshot;
  /** Services added, removed or changed since the previous read (all of them at first). */
  readonly serviceChanges: number;
  /** EndpointSlices added, removed or changed since the previous read. */
  readonly endpointChanges: number;
  /**
   * The trigger times of the EndpointSlices changed since the previous read that carry
   * `endpoints.kubernetes.io/last-change-trigger-time`: the network programming latency is
   * measured from them once the sync that takes them in succeeds.
   */
  readonly endpointTriggers?: readonly EndpointTrigger[];
}

/** When a change that reached an EndpointSlice began, and the slice's family. */
export interface EndpointTrigger {
  /** The slice's address type. */
  readonly family: "IPv4" | "IPv6";
  /** Epoch milliseconds. */
  readonly timeMs: number;
}

/** The trigger of one changed slice, if it has one (FQDN slices are no family's). */
export function triggerOf(slice: EndpointSlice | undefined): EndpointTrigger[] {
  if (slice?.triggerTimeMs === undefined || slice.addressType === "FQDN") return [];
  return [{ family: slice.addressType, timeMs: slice.triggerTimeMs }];
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
  /**
   * Services and EndpointSlices changed since the last read, for kube-proxy's
   * `*_changes_pending` metrics; a source that only learns of changes when it reads has none.
   */
  pendingChanges?(): { readonly services: number; readonly endpoints: number };
  /** Calls `onChange` after every change; returns the unsubscribe. */
  subscribe(onChange: () => void): () => void;
  /** Stops following the cluster; the last snapshot stays readable. */
  close(): Promise<void>;
}
