/**
 * Which API server, and how: kube-proxy's precedence. A kubeconfig (`--kubeconfig`, else the
 * config's `clientConnection.kubeconfig`) with `--master` overriding its server; `--master`
 * alone, without credentials; neither: the in-cluster config of a pod (the service's host and
 * port from the environment, the service account's token, re-read as it rotates, and CA).
 *
 * @module
 */

import { type ApiConnection, KubeconfigError, loadKubeconfig, parseServer } from "./kubeconfig.ts";

/** Where the service account's files are mounted in a pod. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The inputs of {@link resolveConnection}. */
export interface ConnectionInput {
  /** The kubeconfig path, already with `--kubeconfig` over `clientConnection.kubeconfig`. */
  readonly kubeconfig: string;
  /** `--master`; "" when not given. */
  readonly master: string;
  /** The environment: `KUBERNETES_SERVICE_HOST`/`_PORT` for the in-cluster config. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** @default Deno.readTextFileSync */
  /** Reads the kubeconfig and the files it names. */
  readonly readText?: (path: string) => string;
}

const fail = (message: string): never => {
  throw new KubeconfigError(message);
};

/**
 * The connection kube-proxy would use for these inputs.
 *
 * @throws {KubeconfigError} for an unusable kubeconfig, `--master` or in-cluster environment.
 * @example
 * ```ts
 * import { resolveConnection } from "./connection.ts";
 * const c = resolveConnection({ kubeconfig: "", master: "http://127.0.0.1:8080", env: {} });
 * c.credentials.kind; // "none"
 * ```
 */
export function resolveConnection(input: ConnectionInput): ApiConnection {
  const readText = input.readText ?? ((path: string) => Deno.readTextFileSync(path));
  if (input.kubeconfig !== "") {
    const connection = loadKubeconfig(
      input.kubeconfig,
      readKubeconfig(input.kubeconfig, readText),
      {
        readText,
      },
    );
    if (input.master === "") return connection;
    return { ...connection, server: parseServer(input.master, "--master", fail) };
  }
  if (input.master !== "") {
    return {
      server: parseServer(input.master, "--master", fail),
      tls: { caCerts: [], insecureSkipTlsVerify: false },
      credentials: { kind: "none" },
      origin: "--master",
    };
  }
  return inClusterConnection(input.env, readText);
}

function readKubeconfig(path: string, readText: (path: string) => string): string {
  try {
    return readText(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
    throw new KubeconfigError(`cannot read kubeconfig ${JSON.stringify(path)}: ${reason}`, {
      cause: error,
    });
  }
}

/** A pod's own connection, as client-go's `rest.InClusterConfig`. */
export function inClusterConnection(
  env: Readonly<Record<string, string | undefined>>,
  readText: (path: string) => string,
): ApiConnection {
  const host = env.KUBERNETES_SERVICE_HOST ?? "";
  const port = env.KUBERNETES_SERVICE_PORT ?? "";
  if (host === "" || port === "") {
    return fail(
      "no API server to read the cluster from: give --kubeconfig FILE, set " +
        "clientConnection.kubeconfig, give --master URL, run in a pod " +
        "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT), or read manifests with --manifests PATH",
    );
  }
  const bracketed = host.includes(":") ? `[${host}]` : host;
  let ca: string;
  try {
    ca = readText(`${SERVICE_ACCOUNT_DIR}/ca.crt`);
  } catch (error) {
    return fail(`in-cluster config: cannot read ${SERVICE_ACCOUNT_DIR}/ca.crt: ${error}`);
  }
  return {
    server: parseServer(`https://${bracketed}:${port}`, "KUBERNETES_SERVICE_HOST", fail),
    tls: { caCerts: [ca], insecureSkipTlsVerify: false },
    credentials: { kind: "tokenFile", path: `${SERVICE_ACCOUNT_DIR}/token` },
    origin: "in-cluster config",
  };
}
