/**
 * Who the proxy is to the API server: a bearer token (inline, or a file re-read as it rotates,
 * as the service account token is), basic auth, or an exec credential plugin (as cloud
 * providers configure), whose token is cached until it expires. A 401 drops the cached token so
 * the next request reads or runs it afresh.
 *
 * @module
 */

/** An exec credential plugin (`users[].user.exec`). */
export interface ExecPlugin {
  /** The program: an absolute path, or a name looked up in `PATH`. */
  readonly command: string;
  /** Its arguments. */
  readonly args: readonly string[];
  /** Extra environment variables. */
  readonly env: Readonly<Record<string, string>>;
  /** `client.authentication.k8s.io/v1` or `v1beta1`. */
  readonly apiVersion: string;
}

/** The credentials a connection carries. */
export type Credentials =
  | { readonly kind: "none" }
  | { readonly kind: "token"; readonly token: string }
  | { readonly kind: "tokenFile"; readonly path: string }
  | { readonly kind: "basic"; readonly username: string; readonly password: string }
  | { readonly kind: "exec"; readonly plugin: ExecPlugin };

/** What an exec plugin printed that we use. */
export interface ExecCredential {
  /** A bearer token. */
  readonly token?: string;
  /** PEM client certificate and key, when the plugin gives them instead of a token. */
  readonly clientCert?: { readonly cert: string; readonly key: string };
  /** Epoch ms after which the credential is fetched again; undefined keeps it until a 401. */
  readonly expiresAt?: number;
}

/** Credentials cannot be obtained (token file unreadable, plugin failed). */
export class CredentialError extends Error {
  /** `message` names the file or the plugin. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CredentialError";
  }
}

/** How often a token file is read again: client-go's cached file token source period. */
export const TOKEN_FILE_REREAD_MS = 60_000;

/** Injectable I/O of {@link CredentialProvider}. */
export interface CredentialIo {
  /** Reads a token file. */
  readonly readText: (path: string) => Promise<string>;
  /** Runs an exec plugin. */
  readonly runPlugin: (plugin: ExecPlugin) => Promise<ExecCredential>;
  /** Epoch milliseconds. */
  readonly now: () => number;
}

const defaultIo: CredentialIo = {
  readText: (path) => Deno.readTextFile(path),
  runPlugin: runExecPlugin,
  now: () => Date.now(),
};

/**
 * Gives the `Authorization` header (and an exec plugin's client certificate) for each request.
 *
 * @example
 * ```ts
 * import { CredentialProvider } from "./credentials.ts";
 * const provider = new CredentialProvider({ kind: "token", token: "abc" });
 * await provider.authorization(); // "Bearer abc"
 * ```
 */
export class CredentialProvider {
  readonly #io: CredentialIo;
  #cached?: { readonly value: ExecCredential; readonly until: number };

  /** A provider of `credentials`, with the default I/O unless `io` replaces parts of it. */
  constructor(readonly credentials: Credentials, io: Partial<CredentialIo> = {}) {
    this.#io = { ...defaultIo, ...io };
  }

  /** The `Authorization` header value, or undefined for anonymous requests. */
  async authorization(): Promise<string | undefined> {
    const c = this.credentials;
    switch (c.kind) {
      case "none":
        return undefined;
      case "token":
        return `Bearer ${c.token}`;
      case "basic":
        return `Basic ${btoa(`${c.username}:${c.password}`)}`;
      case "tokenFile":
      case "exec": {
        const token = (await this.#fetchCached()).token;
        return token ? `Bearer ${token}` : undefined;
      }
    }
  }

  /** An exec plugin's client certificate, when it gave one. */
  async clientCert(): Promise<ExecCredential["clientCert"]> {
    if (this.credentials.kind !== "exec") return undefined;
    return (await this.#fetchCached()).clientCert;
  }

  /** Forgets a cached token after the server refused it (401). */
  invalidate(): void {
    this.#cached = undefined;
  }

  async #fetchCached(): Promise<ExecCredential> {
    const now = this.#io.now();
    if (this.#cached && now < this.#cached.until) return this.#cached.value;
    const value = await this.#fetch();
    const until = this.credentials.kind === "tokenFile"
      ? now + TOKEN_FILE_REREAD_MS
      : value.expiresAt ?? Number.POSITIVE_INFINITY;
    this.#cached = { value, until };
    return value;
  }

  async #fetch(): Promise<ExecCredential> {
    const c = this.credentials;
    if (c.kind === "exec") return await this.#io.runPlugin(c.plugin);
    if (c.kind !== "tokenFile") return {};
    try {
      return { token: (await this.#io.readText(c.path)).trim() };
    } catch (error) {
      throw new CredentialError(`cannot read the token file ${JSON.stringify(c.path)}: ${error}`, {
        cause: error,
      });
    }
  }
}

/**
 * Runs an exec credential plugin as kubectl does: `KUBERNETES_EXEC_INFO` holds the request,
 * stdout holds an `ExecCredential` whose `status` has a token or a client certificate.
 */
export async function runExecPlugin(plugin: ExecPlugin): Promise<ExecCredential> {
  const name = `exec plugin ${JSON.stringify(plugin.command)}`;
  const info = {
    apiVersion: plugin.apiVersion,
    kind: "ExecCredential",
    spec: { interactive: false },
  };
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(plugin.command, {
      args: [...plugin.args],
      env: { ...plugin.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new CredentialError(`${name} cannot start: ${error}`, { cause: error });
  }
  const stderr = new TextDecoder().decode(output.stderr).trim();
  if (!output.success) {
    throw new CredentialError(`${name} exited with ${output.code}: ${stderr.slice(0, 300)}`);
  }
  return parseExecCredential(new TextDecoder().decode(output.stdout), name);
}

/** Reads the `status` of an `ExecCredential` document. */
export function parseExecCredential(text: string, name: string): ExecCredential {
  let status: Record<string, unknown>;
  try {
    status = JSON.parse(text).status ?? {};
  } catch {
    throw new CredentialError(`${name} printed no ExecCredential JSON`);
  }
  const token = typeof status.token === "string" ? status.token : undefined;
  const cert = status.clientCertificateData, key = status.clientKeyData;
  const clientCert = typeof cert === "string" && typeof key === "string"
    ? { cert, key }
    : undefined;
  if (!token && !clientCert) {
    throw new CredentialError(`${name} gave neither a token nor a client certificate`);
  }
  const expiry = typeof status.expirationTimestamp === "string"
    ? Date.parse(status.expirationTimestamp)
    : NaN;
  return { token, clientCert, expiresAt: Number.isNaN(expiry) ? undefined : expiry };
}
