/**
 * The resources the fake API server serves, and the discovery documents that describe them as a
 * real API server does (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`), enough
 * for kubectl to map `services`, `svc`, `endpointslices` and `nodes` to URLs.
 *
 * @module
 */

/** One served resource (a REST collection). */
export interface ResourceInfo {
  /** The API group; "" for the core group. */
  readonly group: string;
  /** The version within the group. */
  readonly version: string;
  /** `apiVersion` of its objects: `v1` or `group/version`. */
  readonly apiVersion: string;
  /** The plural resource name in URLs: `services`. */
  readonly resource: string;
  /** The singular name: `service`. */
  readonly singularName: string;
  /** The object kind: `Service`. */
  readonly kind: string;
  /** The list kind: `ServiceList`. */
  readonly listKind: string;
  /** Whether objects live in a namespace. */
  readonly namespaced: boolean;
  /** kubectl's short names: `svc`. */
  readonly shortNames: readonly string[];
}

function resource(
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  shortNames: string[],
): ResourceInfo {
  const apiVersion = group === "" ? version : `${group}/${version}`;
  const singularName = kind.toLowerCase();
  return {
    group,
    version,
    apiVersion,
    resource,
    singularName,
    kind,
    listKind: `${kind}List`,
    namespaced,
    shortNames,
  };
}

/** Every resource served, in discovery order. */
export const RESOURCES: readonly ResourceInfo[] = [
  resource("", "v1", "events", "Event", true, ["ev"]),
  resource("", "v1", "nodes", "Node", false, ["no"]),
  resource("", "v1", "services", "Service", true, ["svc"]),
  resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, []),
  resource("events.k8s.io", "v1", "events", "Event", true, ["ev"]),
];

/** The resource for a URL's group, version and plural name, if served. */
export function findResource(
  group: string,
  version: string,
  plural: string,
): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === plural);
}

/**
 * The resource for an object's `apiVersion` and `kind`; with no `apiVersion`, the first resource
 * of that kind (`Event` means the core group's).
 */
export function resourceForKind(kind: string, apiVersion?: string): ResourceInfo | undefined {
  return RESOURCES.find((r) =>
    r.kind === kind && (apiVersion === undefined || r.apiVersion === apiVersion)
  );
}

const ALL_VERBS = [
  "create",
  "delete",
  "deletecollection",
  "get",
  "list",
  "patch",
  "update",
  "watch",
];

/** The GitVersion `/version` reports (kubectl only warns when it is far from its own). */
export const SERVER_VERSION = {
  major: "1",
  minor: "20",
  gitVersion: "v1.20.2",
  gitCommit: "faecb196815e248d3ecfb03c680a4507229c2a56",
  gitTreeState: "clean",
  buildDate: "2021-01-13T13:20:00Z",
  goVersion: "go1.15.5",
  compiler: "gc",
  platform: "linux/amd64",
};

/** `/api`: the core group's versions, with the address clients reach the server at. */
export function apiVersions(serverAddress: string): unknown {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function groups(): Map<string, string[]> {
  const byGroup = new Map<string, string[]>();
  for (const r of RESOURCES) {
    if (r.group === "") continue;
    const versions = byGroup.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    byGroup.set(r.group, versions);
  }
  return byGroup;
}

/** `/apis`: every named group with its versions and preferred version. */
export function apiGroupList(): unknown {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [...groups()].map(([name, versions]) => ({
      name,
      versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
    })),
  };
}

/** `/apis/{group}`: one group, or undefined when not served. */
export function apiGroup(name: string): unknown {
  const versions = groups().get(name);
  if (!versions) return undefined;
  return {
    kind: "APIGroup",
    apiVersion: "v1",
    name,
    versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
    preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
  };
}

/** `/api/v1` or `/apis/{group}/{version}`: the resources of one group version, or undefined. */
export function apiResourceList(group: string, version: string): unknown {
  const served = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (served.length === 0) return undefined;
  const resources = served.flatMap((r) => {
    const main = {
      name: r.resource,
      singularName: r.singularName,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: ALL_VERBS,
      ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
    };
    if (r.kind === "Event") return [main];
    const status = {
      name: `${r.resource}/status`,
      singularName: "",
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: ["get", "patch", "update"],
    };
    return r.kind === "EndpointSlice" ? [main] : [main, status];
  });
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group === "" ? version : `${group}/${version}`,
    resources,
  };
}
