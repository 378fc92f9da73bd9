/**
 * kube-proxy's "birth cry": an `events.k8s.io/v1` Event on this node's Node when the proxy
 * starts (reason `Starting`, action `StartKubeProxy`, reported by `kube-proxy`), so
 * `kubectl describe node` and `kubectl get events` show the start as they do for kube-proxy.
 *
 * @module
 */

import type { ApiClient } from "./api_client.ts";

/** The Event kube-proxy records at start, as client-go's event recorder builds it. */
export function startingEvent(
  nodeName: string,
  hostname: string,
  now: Date,
): Record<string, unknown> {
  // MicroTime: RFC 3339 with microseconds; the name is `<regarding>.<unix nanoseconds, hex>`.
  const micro = now.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
  const nanos = BigInt(now.getTime()) * 1_000_000n;
  return {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { name: `${nodeName}.${nanos.toString(16)}`, namespace: "default" },
    eventTime: micro,
    reportingController: "kube-proxy",
    reportingInstance: `kube-proxy-${hostname}`,
    action: "StartKubeProxy",
    reason: "Starting",
    regarding: { kind: "Node", name: nodeName, uid: nodeName },
    type: "Normal",
    note: "",
  };
}

/**
 * Records the start; a refusal (RBAC without `create events`, an old server) is only a debug
 * line, never a failure.
 */
export async function recordStartingEvent(
  client: ApiClient,
  nodeName: string,
  hostname: string,
  debug: (line: string) => void,
  now: Date = new Date(),
): Promise<void> {
  try {
    await client.postJson(
      "/apis/events.k8s.io/v1/namespaces/default/events",
      startingEvent(nodeName, hostname, now),
    );
  } catch (error) {
    debug(`the Starting event on Node ${nodeName} was not recorded: ${(error as Error).message}`);
  }
}
