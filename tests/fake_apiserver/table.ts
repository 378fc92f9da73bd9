/**
 * A minimal `meta.k8s.io/v1` Table, which kubectl asks for (`Accept: application/json;as=Table;
 * v=v1;g=meta.k8s.io, ...`) when it prints for humans: Name and Age for every resource, plus
 * Type, Cluster-IP and Port(s) for Services, each row carrying the object's metadata as
 * `PartialObjectMetadata` (kubectl reads the namespace column from it).
 *
 * @module
 */

import type { ResourceInfo } from "./discovery.ts";
import type { KubeObject, StoredObject } from "./store.ts";

/** Whether the first media type the client accepts is a Table. */
export function wantsTable(accept: string | undefined): boolean {
  const first = (accept ?? "").split(",")[0];
  const [type, ...params] = first.split(";").map((p) => p.trim());
  if (type.toLowerCase() !== "application/json") return false;
  const p = new Map(params.map((kv) => kv.split("=") as [string, string]));
  return p.get("as") === "Table" && p.get("g") === "meta.k8s.io";
}

interface Column {
  readonly name: string;
  readonly type: string;
  readonly format: string;
  readonly description: string;
  readonly priority: number;
  readonly cell: (obj: KubeObject) => string;
}

function column(name: string, cell: (obj: KubeObject) => string, format = ""): Column {
  return { name, type: "string", format, description: name, priority: 0, cell };
}

/** kubectl's age format: `42s`, `5m10s`, `3h`, `12d`. */
export function humanAge(created: string | undefined, now: number = Date.now()): string {
  if (!created) return "<unknown>";
  const s = Math.max(0, Math.floor((now - Date.parse(created)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 === 0 ? "" : `${s % 60}s`}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return `${h}h${m % 60 === 0 ? "" : `${m % 60}m`}`;
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

type Spec = {
  type?: string;
  clusterIP?: string;
  ports?: { port?: number; protocol?: string; nodePort?: number }[];
};

const NAME = column("Name", (o) => String(o.metadata?.name ?? ""), "name");
const AGE = column("Age", (o) => humanAge(o.metadata?.creationTimestamp as string | undefined));
const SERVICE_COLUMNS: readonly Column[] = [
  NAME,
  column("Type", (o) => (o.spec as Spec | undefined)?.type ?? "ClusterIP"),
  column("Cluster-IP", (o) => (o.spec as Spec | undefined)?.clusterIP ?? "<none>"),
  column("Port(s)", (o) => {
    const ports = (o.spec as Spec | undefined)?.ports ?? [];
    if (ports.length === 0) return "<none>";
    return ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`)
      .join(",");
  }),
  AGE,
];

/**
 * The Table for some objects of one resource; `withColumns: false` leaves the column definitions
 * out, as in a watch's events after the first.
 */
export function tableFor(
  resource: ResourceInfo,
  items: readonly Pick<StoredObject, "obj">[],
  resourceVersion: string,
  continueToken?: string,
  withColumns = true,
): unknown {
  const columns = resource.kind === "Service" ? SERVICE_COLUMNS : [NAME, AGE];
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion, ...(continueToken ? { continue: continueToken } : {}) },
    columnDefinitions: withColumns
      ? columns.map(({ cell: _cell, ...definition }) => definition)
      : [],
    rows: items.map((o) => ({
      cells: columns.map((c) => c.cell(o.obj)),
      object: {
        kind: "PartialObjectMetadata",
        apiVersion: "meta.k8s.io/v1",
        metadata: o.obj.metadata,
      },
    })),
  };
}
