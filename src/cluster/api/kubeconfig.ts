/**
 * kubeconfig files as users have them: the current context (or a named one), its cluster
 * (`server`, `certificate-authority[-data]`, `insecure-skip-tls-verify`) and its user (`token`,
 * `tokenFile`, `client-certificate[-data]`/`client-key[-data]`, `username`/`password`, and exec
 * credential plugins). Relative paths are taken from the kubeconfig's own directory, as kubectl
 * does.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { Credentials, ExecPlugin } from "./credentials.ts";
import type { TlsSettings } from "./transport.ts";

/** Everything needed to talk to one API server. */
export interface ApiConnection {
  /** The server's base URL, e.g. `https://10.0.0.1:6443`. */
  readonly server: URL;
  /** The CA, the client certificate, and whether to verify the server. */
  readonly tls: TlsSettings;
  /** The user's token, token file, basic auth or exec plugin. */
  readonly credentials: Credentials;
  /** Where these settings came from, for messages: `kubeconfig /etc/k.conf (context ctx)`. */
  readonly origin: string;
}

/** A kubeconfig that cannot be used; the CLI exits 2. */
export class KubeconfigError extends Error {
  /** `message` names the file and the field. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KubeconfigError";
  }
}

type Fields = Record<string, unknown>;

function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads a file named by the kubeconfig (synchronously: a kubeconfig is read once at start). */
export type ReadText = (path: string) => string;

const readTextSync: ReadText = (path) => Deno.readTextFileSync(path);

/** Options of {@link loadKubeconfig}. */
export interface KubeconfigOptions {
  /** Use this context instead of `current-context`. */
  readonly context?: string;
  /** Reads the files the kubeconfig names. @default Deno.readTextFileSync */
  readonly readText?: ReadText;
}

/**
 * Parses the kubeconfig at `path` (its text given as `text`) into an {@link ApiConnection}.
 *
 * @throws {KubeconfigError} naming the file and the field that is missing or invalid.
 * @example
 * ```ts
 * import { loadKubeconfig } from "./kubeconfig.ts";
 * const text = `
 * apiVersion: v1
 * kind: Config
 * current-context: lab
 * contexts: [{ name: lab, context: { cluster: lab, user: admin } }]
 * clusters: [{ name: lab, cluster: { server: "http://127.0.0.1:8080" } }]
 * users: [{ name: admin, user: { token: secret } }]
 * `;
 * const connection = loadKubeconfig("/etc/kubernetes/proxy.conf", text);
 * connection.server.href; // "http://127.0.0.1:8080/"
 * ```
 */
export function loadKubeconfig(
  path: string,
  text: string,
  options: KubeconfigOptions = {},
): ApiConnection {
  const fail = (message: string): never => {
    throw new KubeconfigError(`kubeconfig ${JSON.stringify(path)}: ${message}`);
  };
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    fail(`not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  if (!isFields(doc)) return fail("expected a kubeconfig (kind: Config)");
  const contextName = options.context ?? stringField(doc, "current-context");
  if (!contextName) return fail("no current-context is set; set one or pass a context");
  const context = named(doc, "contexts", contextName, "context", fail);
  const clusterName = stringField(context, "cluster");
  const cluster = named(doc, "clusters", clusterName, "cluster", fail);
  const userName = stringField(context, "user");
  const user = userName ? named(doc, "users", userName, "user", fail) : {};
  const files = new FileResolver(path, options.readText ?? readTextSync, fail);
  const server = parseServer(
    stringField(cluster, "server"),
    `clusters[${clusterName}].server`,
    fail,
  );
  return {
    server,
    tls: {
      caCerts: files.pem(cluster, "certificate-authority", `clusters[${clusterName}]`),
      insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
      clientCert: clientCertificate(user, files, `users[${userName}]`),
    },
    credentials: userCredentials(user, files, `users[${userName}]`, fail),
    origin: `kubeconfig ${JSON.stringify(path)} (context ${JSON.stringify(contextName)})`,
  };
}

function stringField(fields: Fields, key: string): string {
  const value = fields[key];
  return typeof value === "string" ? value : "";
}

/** The `inner` object of the entry named `name` in the list `list` (`contexts`, ...). */
function named(
  doc: Fields,
  list: string,
  name: string,
  inner: string,
  fail: (message: string) => never,
): Fields {
  const entries = Array.isArray(doc[list]) ? doc[list] as unknown[] : [];
  const entry = entries.find((e) => isFields(e) && e.name === name);
  if (!isFields(entry)) return fail(`${list}: no entry named ${JSON.stringify(name)}`);
  return isFields(entry[inner]) ? entry[inner] : fail(`${list}[${name}].${inner}: missing`);
}

/** Parses a server URL; exported for `--master`. */
export function parseServer(
  text: string,
  field: string,
  fail: (message: string) => never,
): URL {
  if (text === "") return fail(`${field}: missing`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail(`${field}: not a URL: ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return fail(`${field}: must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  }
  return url;
}

/** Files named by the kubeconfig, relative to its directory, and inline `-data` fields. */
class FileResolver {
  readonly #dir: string;
  constructor(
    path: string,
    readonly readText: ReadText,
    readonly fail: (message: string) => never,
  ) {
    this.#dir = dirname(resolve(path));
  }

  path(file: string): string {
    return resolve(this.#dir, file);
  }

  /** `KEY-data` (base64) or the file `KEY` names; undefined when neither is set. */
  text(fields: Fields, key: string, where: string): string | undefined {
    const data = stringField(fields, `${key}-data`);
    if (data !== "") {
      try {
        return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
      } catch {
        return this.fail(`${where}.${key}-data: not valid base64`);
      }
    }
    const file = stringField(fields, key);
    if (file === "") return undefined;
    try {
      return this.readText(this.path(file));
    } catch (error) {
      return this.fail(`${where}.${key}: cannot read ${JSON.stringify(file)}: ${error}`);
    }
  }

  pem(fields: Fields, key: string, where: string): string[] {
    const text = this.text(fields, key, where);
    return text === undefined ? [] : [text];
  }
}

function clientCertificate(user: Fields, files: FileResolver, where: string) {
  const cert = files.text(user, "client-certificate", where);
  const key = files.text(user, "client-key", where);
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    return files.fail(`${where}: client-certificate and client-key must be given together`);
  }
  return { cert, key };
}

function userCredentials(
  user: Fields,
  files: FileResolver,
  where: string,
  fail: (message: string) => never,
): Credentials {
  const token = stringField(user, "token");
  if (token !== "") return { kind: "token", token };
  const tokenFile = stringField(user, "tokenFile");
  if (tokenFile !== "") return { kind: "tokenFile", path: files.path(tokenFile) };
  if (isFields(user.exec)) {
    return { kind: "exec", plugin: execPlugin(user.exec, files, where, fail) };
  }
  const username = stringField(user, "username");
  if (username !== "") {
    return { kind: "basic", username, password: stringField(user, "password") };
  }
  return { kind: "none" };
}

function execPlugin(
  exec: Fields,
  files: FileResolver,
  where: string,
  fail: (message: string) => never,
): ExecPlugin {
  const name = stringField(exec, "command");
  if (name === "") return fail(`${where}.exec.command: missing`);
  // As kubectl: a command with a slash is a path relative to the kubeconfig, else looked up in PATH.
  const command = name.includes("/") ? files.path(name) : name;
  const args = Array.isArray(exec.args) ? exec.args.map(String) : [];
  const env = Array.isArray(exec.env)
    ? exec.env.filter(isFields).map((e) => [String(e.name), String(e.value ?? "")] as const)
    : [];
  const apiVersion = stringField(exec, "apiVersion") || "client.authentication.k8s.io/v1";
  return { command, args, env: Object.fromEntries(env), apiVersion };
}
