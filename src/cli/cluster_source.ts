/**
 * Which {@link ClusterSource} a run reads: the manifest files when `--manifests` is given (even
 * when the config names a kubeconfig, so a dry run of a kubeadm config over files keeps
 * working), else the Kubernetes API with kube-proxy's connection precedence.
 *
 * @module
 */

import { ApiClient } from "../cluster/api/api_client.ts";
import { ApiClusterSource } from "../cluster/api/api_source.ts";
import { resolveConnection } from "../cluster/api/connection.ts";
import type { ReflectorTuning } from "../cluster/api/reflector.ts";
import type { ClusterSource } from "../cluster/source.ts";
import type { ProxyConfig } from "../config/types.ts";
import { ManifestSnapshots } from "./manifest_snapshots.ts";

/** How long `--once` waits for the initial lists before it gives up. */
export const ONCE_LIST_TIMEOUT_MS = 30_000;

/** The lists did not complete in time (`--once`): exit 1, naming the server and the error. */
export class ListTimeoutError extends Error {
  /** `message` names the source and, per resource, the last error. */
  constructor(message: string) {
    super(message);
    this.name = "ListTimeoutError";
  }
}

/** What {@link openClusterSource} needs. */
export interface SourceInput {
  readonly manifests: readonly string[];
  readonly config: ProxyConfig;
  /** `--master`; "" when not given. */
  readonly master: string;
  readonly nodeName: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: (line: string) => void;
  /** Reflector timing, for tests. */
  readonly tuning?: ReflectorTuning;
}

/**
 * The source for this run.
 *
 * @throws {KubeconfigError} when the API is to be used and no usable connection is configured.
 */
export function openClusterSource(input: SourceInput): ClusterSource {
  if (input.manifests.length > 0) return new ManifestSnapshots(input.manifests, input.log);
  const connection = resolveConnection({
    kubeconfig: input.config.clientConnection.kubeconfig,
    master: input.master,
    env: input.env,
  });
  const { qps, burst } = input.config.clientConnection;
  const client = new ApiClient(connection, {
    qps,
    burst,
    userAgent: "ipvs-proxy",
    watchIdleMs: 15 * 60_000,
  });
  input.log(`Reading the cluster from ${client.server} (${client.origin})`);
  return new ApiClusterSource({
    client,
    nodeName: input.nodeName,
    log: input.log,
    tuning: input.tuning,
  });
}

/**
 * Waits for the source's first complete snapshot; with `timeoutMs`, gives up after that long
 * with a {@link ListTimeoutError} naming what failed.
 */
export async function waitForSource(
  source: ClusterSource,
  signal: AbortSignal,
  timeoutMs?: number,
): Promise<void> {
  if (timeoutMs === undefined) return await source.ready(signal);
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    await source.ready(AbortSignal.any([signal, timeout]));
  } catch (error) {
    if (!timeout.aborted) throw error;
    const reasons = source instanceof ApiClusterSource ? source.pendingReasons() : [];
    throw new ListTimeoutError(
      `cannot list the cluster from ${source.description} within ${timeoutMs / 1000}s` +
        (reasons.length > 0 ? `: ${reasons.join("; ")}` : ""),
    );
  }
}
