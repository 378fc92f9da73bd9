/**
 * Helpers for the fake API server's own tests: object builders, a JSON GET, and a watch reader
 * that reads one event per line and always releases its stream.
 *
 * @module
 */

import type { KubeObject } from "./fake_apiserver.ts";

/** Parsed JSON, loosely typed for assertions. */
// deno-lint-ignore no-explicit-any
export type Json = any;

/** A Service named `name` in `namespace`, with labels. */
export function service(
  name: string,
  namespace = "default",
  labels?: Record<string, string>,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, ...(labels ? { labels } : {}) },
    spec: { type: "ClusterIP", clusterIP: "10.96.0.10", ports: [{ port: 80, protocol: "TCP" }] },
  };
}

/** An EndpointSlice of Service `serviceName` with one ready endpoint. */
export function endpointSlice(name: string, namespace: string, serviceName: string): KubeObject {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace, labels: { "kubernetes.io/service-name": serviceName } },
    addressType: "IPv4",
    endpoints: [{ addresses: ["10.244.0.5"], conditions: { ready: true } }],
    ports: [{ name: "", port: 8080, protocol: "TCP" }],
  };
}

/** A Node with an InternalIP. */
export function node(name: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name } },
    status: { addresses: [{ type: "InternalIP", address: "192.168.0.10" }] },
  };
}

/** GETs (or sends) `url` and returns the status code and the parsed JSON body (text if not JSON). */
export async function fetchJson(
  url: string,
  init?: RequestInit & { client?: Deno.HttpClient },
): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body, headers: res.headers };
}

/** One watch event. */
export interface WatchEvent {
  /** `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`. */
  readonly type: string;
  /** The object (a Status for ERROR). */
  readonly object: Json;
}

/** Reads a watch stream line by line. Call {@link WatchReader.close} when done. */
export class WatchReader {
  #buffer = "";
  #done = false;

  private constructor(
    readonly response: Response,
    readonly reader: ReadableStreamDefaultReader<string>,
  ) {}

  /** Opens a watch at `url`; throws unless the server answers 200. */
  static async open(url: string, init?: RequestInit): Promise<WatchReader> {
    const response = await fetch(url, init);
    if (response.status !== 200) {
      const text = await response.text();
      throw new Error(`watch ${url} answered ${response.status}: ${text}`);
    }
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    return new WatchReader(response, reader);
  }

  /** The next event; undefined when the stream ended. Fails after `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<WatchEvent | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no watch event in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      while (true) {
        const nl = this.#buffer.indexOf("\n");
        if (nl >= 0) {
          const line = this.#buffer.slice(0, nl);
          this.#buffer = this.#buffer.slice(nl + 1);
          if (line.trim() !== "") return JSON.parse(line);
          continue;
        }
        if (this.#done) return undefined;
        const { value, done } = await Promise.race([this.reader.read(), timeout]);
        if (done) this.#done = true;
        else this.#buffer += value;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** The next `n` events. */
  async take(n: number, timeoutMs = 3000): Promise<WatchEvent[]> {
    const events: WatchEvent[] = [];
    for (let i = 0; i < n; i++) {
      const e = await this.next(timeoutMs);
      if (e === undefined) throw new Error(`the watch ended after ${events.length} of ${n} events`);
      events.push(e);
    }
    return events;
  }

  /** Releases the stream. */
  async close(): Promise<void> {
    if (!this.#done) await this.reader.cancel().catch(() => {});
  }
}

/** `type name` for each event, for compact assertions. */
export function summary(events: readonly WatchEvent[]): string[] {
  return events.map((e) => `${e.type} ${e.object?.metadata?.name ?? e.object?.reason ?? ""}`);
}
