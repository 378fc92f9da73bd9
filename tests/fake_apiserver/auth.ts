/**
 * Authentication and authorisation as the API server does them, reduced to what kube-proxy meets:
 * a client certificate verified against the test CA (the user is its CN, the groups its O), a
 * bearer token from a list that tests can replace at runtime, anonymous access when allowed, and
 * rules that forbid a verb on a resource with the real 403 wording.
 *
 * @module
 */

import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { resourceDetails, status, type StatusObject } from "./status.ts";

/** Who made a request. */
export interface User {
  /** `system:kube-proxy`, `system:anonymous`, ... */
  readonly name: string;
  /** `system:node-proxier`, `system:authenticated`, ... */
  readonly groups: readonly string[];
}

/** An accepted bearer token: the token alone (its user is `system:kube-proxy`) or with its user. */
export type TokenSpec = string | { readonly token: string; readonly user: string };

/** A rule that makes requests fail with 403 Forbidden. Absent fields match anything. */
export interface ForbidRule {
  /** The plural resource: `services`, `endpointslices`, `nodes`, `events`. */
  readonly resource: string;
  /** `get`, `list`, `watch`, `create`, ... */
  readonly verb?: string;
  /** The user's name. */
  readonly user?: string;
  /** The request's namespace ("" for cluster-scoped requests). */
  readonly namespace?: string;
}

/** What one request asks to do, for {@link Authorizer}. */
export interface Attributes {
  /** `get`, `list`, `watch`, `create`, ... */
  readonly verb: string;
  /** The API group; "" for the core group. */
  readonly group: string;
  /** The plural resource. */
  readonly resource: string;
  /** "" for a cluster-scoped request (including a list across every namespace). */
  readonly namespace: string;
  /** The object's name, for a request on one object. */
  readonly name?: string;
}

/** The user of a plain-string {@link TokenSpec}. */
export const DEFAULT_TOKEN_USER = "system:kube-proxy";

/** The 401 Status the API server answers a request it cannot authenticate with. */
export function unauthorized(): StatusObject {
  return status(401, "Unauthorized");
}

/** Decides who a request is from; see the module documentation. */
export class Authenticator {
  #tokens = new Map<string, User>();

  /** Makes the authenticator with the accepted tokens and whether anonymous requests pass. */
  constructor(tokens: readonly TokenSpec[], readonly anonymous: boolean) {
    this.setTokens(tokens);
  }

  /** Replaces the accepted tokens: a token not in the new list is refused from now on. */
  setTokens(tokens: readonly TokenSpec[]): void {
    this.#tokens = new Map(tokens.map((t) => {
      const [token, name] = typeof t === "string" ? [t, DEFAULT_TOKEN_USER] : [t.token, t.user];
      return [token, { name, groups: ["system:authenticated"] }];
    }));
  }

  /** The request's user, or undefined when it must get 401. */
  authenticate(req: IncomingMessage): User | undefined {
    const socket = req.socket as Partial<TLSSocket>;
    const cert = typeof socket.getPeerCertificate === "function"
      ? socket.getPeerCertificate()
      : undefined;
    if (cert && cert.subject && Object.keys(cert.subject).length > 0) {
      if (!socket.authorized) return undefined;
      const subject = cert.subject as unknown as Record<string, string | string[]>;
      const o = subject.O === undefined ? [] : [subject.O].flat();
      return { name: String(subject.CN ?? ""), groups: [...o, "system:authenticated"] };
    }
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      return m ? this.#tokens.get(m[1]) : undefined;
    }
    if (!this.anonymous) return undefined;
    return { name: "system:anonymous", groups: ["system:unauthenticated"] };
  }
}

/** Decides whether a user may do what a request asks; see {@link ForbidRule}. */
export class Authorizer {
  #rules: readonly ForbidRule[];

  /** Makes the authoriser with its forbidding rules. */
  constructor(rules: readonly ForbidRule[]) {
    this.#rules = rules;
  }

  /** Replaces the rules. */
  setRules(rules: readonly ForbidRule[]): void {
    this.#rules = [...rules];
  }

  /** The 403 Status for a forbidden request, or undefined when it is allowed. */
  check(user: User, a: Attributes): StatusObject | undefined {
    const hit = this.#rules.some((r) =>
      r.resource === a.resource && (r.verb === undefined || r.verb === a.verb) &&
      (r.user === undefined || r.user === user.name) &&
      (r.namespace === undefined || r.namespace === a.namespace)
    );
    if (!hit) return undefined;
    return status(
      403,
      forbiddenMessage(user.name, a),
      resourceDetails(a.group, a.resource, a.name),
    );
  }
}

/**
 * The API server's words for a forbidden request:
 * `services is forbidden: User "X" cannot list resource "services" in API group "" at the cluster scope`.
 */
export function forbiddenMessage(user: string, a: Attributes): string {
  const qualified = a.group ? `${a.resource}.${a.group}` : a.resource;
  const subject = a.name ? `${qualified} "${a.name}"` : qualified;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : "at the cluster scope";
  return `${subject} is forbidden: User "${user}" cannot ${a.verb} resource "${a.resource}" ` +
    `in API group "${a.group}" ${scope}`;
}
