/**
 * `meta/v1 Status` bodies, worded as the real API server words them, and the reasons it gives for
 * each HTTP code.
 *
 * @module
 */

/** A `Status` object as the API server sends it with a failure. */
export interface StatusObject {
  /** Always `Status`. */
  readonly kind: "Status";
  /** Always `v1`. */
  readonly apiVersion: "v1";
  /** Always empty. */
  readonly metadata: Record<string, unknown>;
  /** Always `Failure`. */
  readonly status: "Failure";
  /** What went wrong, for people. */
  readonly message: string;
  /** What went wrong, for programs: `Expired`, `Forbidden`, ... */
  readonly reason: string;
  /** The object concerned: `{name, group, kind}`. */
  readonly details?: Record<string, unknown>;
  /** The HTTP status code. */
  readonly code: number;
}

const REASONS: Readonly<Record<number, string>> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  406: "NotAcceptable",
  409: "AlreadyExists",
  410: "Expired",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** The `reason` the API server gives with an HTTP status code (`InternalError` for unknown codes). */
export function reasonFor(code: number): string {
  return REASONS[code] ?? (code >= 500 ? "InternalError" : "BadRequest");
}

/** A failure `Status` with the given code and message; the reason is {@link reasonFor} the code. */
export function status(
  code: number,
  message: string,
  details?: Record<string, unknown>,
  reason: string = reasonFor(code),
): StatusObject {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

/** `details` naming a resource (and an object): `{name, group, kind}` with `kind` the plural. */
export function resourceDetails(
  group: string,
  resource: string,
  name?: string,
): Record<string, unknown> {
  return {
    ...(name ? { name } : {}),
    ...(group ? { group } : {}),
    kind: resource,
  };
}

/** `services "a" not found` (`endpointslices.discovery.k8s.io "a" not found` in a named group). */
export function notFound(group: string, resource: string, name: string): StatusObject {
  const qualified = group ? `${resource}.${group}` : resource;
  return status(404, `${qualified} "${name}" not found`, resourceDetails(group, resource, name));
}

/** The 410 for a watch or list from a resourceVersion older than the compaction point. */
export function tooOldResourceVersion(requested: number, oldest: number): StatusObject {
  return status(410, `too old resource version: ${requested} (${oldest})`);
}

/** The 410 for a `continue` token older than the compaction point, in the API server's words. */
export function expiredContinue(): StatusObject {
  return status(
    410,
    "The provided continue parameter is too old to display a consistent list result. You can " +
      "start a new list without the continue parameter, or use the continue token in this " +
      "response to retrieve the remainder of the results. Continuing with the provided token " +
      "results in an inconsistent list - objects that were created, modified, or deleted " +
      "between the time the first chunk was returned and now may show up in the list.",
  );
}
