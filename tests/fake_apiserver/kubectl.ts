/**
 * Finding the real kubectl that holds the fake API server to the real wire protocol, the gate for
 * tests that need it (skip visibly, or fail under REQUIRE_KERNEL_TESTS=1 as CI sets it), and a
 * kubeconfig writer.
 *
 * @module
 */

import assert from "node:assert/strict";

/** The line a test prints when it skips for want of kubectl. */
export const KUBECTL_SKIP_TEXT =
  "skipped: needs kubectl (run tests/fake_apiserver/install_kubectl.sh)";

/** Where `install_kubectl.sh` unpacks Debian's kubernetes-client. */
export const CACHED_KUBECTL: string =
  new URL("../../.cache/kubectl/usr/bin/kubectl", import.meta.url)
    .pathname;

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * Whether `kubectl version --client` printed a real 1.x client: `Client Version: version.Info{...
 * GitVersion:"v1.20.2"...}` (up to 1.27) or `Client Version: v1.28.0`, and not a dispatcher such
 * as google-cloud-sdk's (`Client Version: v1.32.4-dispatcher`), which runs other binaries.
 */
export function isRealKubectlVersion(output: string): boolean {
  if (/dispatcher/i.test(output)) return false;
  return /^Client Version: (?:version\.Info\{.*GitVersion:"v1\.\d+\.\d+[^"]*"|v1\.\d+\.\d+\S*\s*$)/m
    .test(output);
}

async function versionOutput(path: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(path, {
      args: ["version", "--client"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(10_000),
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The kubectl to test with: `$KUBECTL` when set; else the repository's `.cache/kubectl` copy
 * (from `tests/fake_apiserver/install_kubectl.sh`); else `/usr/bin/kubectl` when it is a real 1.x
 * client ({@link isRealKubectlVersion}); else undefined.
 */
export async function findKubectl(): Promise<string | undefined> {
  const fromEnv = Deno.env.get("KUBECTL");
  if (fromEnv) return fromEnv;
  if (await isFile(CACHED_KUBECTL)) return CACHED_KUBECTL;
  const system = "/usr/bin/kubectl";
  if (!(await isFile(system))) return undefined;
  const version = await versionOutput(system);
  return version !== undefined && isRealKubectlVersion(version) ? system : undefined;
}

/**
 * The kubectl for a test, or undefined after printing {@link KUBECTL_SKIP_TEXT}; under
 * REQUIRE_KERNEL_TESTS=1 (CI: no real-tool test may skip) a missing kubectl fails the test.
 */
export async function kubectlOrSkip(): Promise<string | undefined> {
  const kubectl = await findKubectl();
  if (kubectl !== undefined) return kubectl;
  if (Deno.env.get("REQUIRE_KERNEL_TESTS") === "1") {
    assert.fail(`REQUIRE_KERNEL_TESTS=1 but no kubectl was found: ${KUBECTL_SKIP_TEXT}`);
  }
  console.log(KUBECTL_SKIP_TEXT);
  return undefined;
}

/** How a kubeconfig's user authenticates. */
export type KubeconfigCredentials =
  | { readonly clientCertificate: string; readonly clientKey: string }
  | { readonly token: string };

/**
 * Writes a kubeconfig (one cluster, user and context, all named `fake`) to `path`: the server
 * URL, the CA file to trust, and client-certificate/key files or a bearer token.
 */
export async function writeKubeconfig(
  path: string,
  server: string,
  certificateAuthority: string,
  credentials: KubeconfigCredentials,
): Promise<void> {
  const user = "token" in credentials ? { token: credentials.token } : {
    "client-certificate": credentials.clientCertificate,
    "client-key": credentials.clientKey,
  };
  // JSON is YAML: no quoting rules to get wrong.
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{
      name: "fake",
      cluster: { server, "certificate-authority": certificateAuthority },
    }],
    users: [{ name: "fake", user }],
    contexts: [{ name: "fake", context: { cluster: "fake", user: "fake" } }],
    "current-context": "fake",
  };
  await Deno.writeTextFile(path, JSON.stringify(config, null, 2));
}
