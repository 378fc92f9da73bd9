/**
 * A throwaway PKI for the fake API server's HTTPS tests, made with the `openssl` CLI: a CA, a
 * server certificate for `localhost`/`127.0.0.1`, and a client certificate for kube-proxy's user
 * (CN `system:kube-proxy`, O `system:node-proxier`, as kubeadm issues it). EC P-256 keys and X.509
 * v3 certificates with extensions, which rustls (Deno's fetch) and Go (kubectl) both require.
 *
 * @module
 */

/** A certificate and its key, as files and as PEM text. */
export interface CertPair {
  /** Path of the PEM certificate. */
  readonly certFile: string;
  /** Path of the PEM private key (PKCS#8, unencrypted). */
  readonly keyFile: string;
  /** The certificate's PEM text. */
  readonly cert: string;
  /** The key's PEM text. */
  readonly key: string;
}

/** What {@link makeTestPki} made. */
export interface TestPki {
  /** The directory holding every file. */
  readonly dir: string;
  /** The CA that signed both certificates (clients trust it; the server verifies clients with it). */
  readonly ca: CertPair;
  /** The server's certificate: SANs `DNS:localhost` and `IP:127.0.0.1`, `serverAuth`. */
  readonly server: CertPair;
  /** The client's certificate: CN `system:kube-proxy`, O `system:node-proxier`, `clientAuth`. */
  readonly client: CertPair;
}

/** Options for {@link makeTestPki}. */
export interface TestPkiOptions {
  /** The client certificate's common name (the user the API server sees). @default {"system:kube-proxy"} */
  readonly clientCommonName?: string;
  /** The client certificate's organisation (its group). @default {"system:node-proxier"} */
  readonly clientOrganization?: string;
}

async function openssl(args: readonly string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args: [...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`openssl ${args[0]} failed (exit ${out.code}): ${stderr}`);
  }
}

const KEY_ARGS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

async function pair(certFile: string, keyFile: string): Promise<CertPair> {
  const [cert, key] = await Promise.all([Deno.readTextFile(certFile), Deno.readTextFile(keyFile)]);
  return { certFile, keyFile, cert, key };
}

async function signedLeaf(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
  serial: string,
): Promise<CertPair> {
  const keyFile = `${dir}/${name}.key`;
  const csrFile = `${dir}/${name}.csr`;
  const certFile = `${dir}/${name}.crt`;
  const extFile = `${dir}/${name}.ext`;
  await Deno.writeTextFile(extFile, extensions);
  await openssl([
    "req",
    "-new",
    ...KEY_ARGS,
    "-keyout",
    keyFile,
    "-out",
    csrFile,
    "-subj",
    subject,
  ]);
  await openssl([
    "x509",
    "-req",
    "-in",
    csrFile,
    "-CA",
    `${dir}/ca.crt`,
    "-CAkey",
    `${dir}/ca.key`,
    "-set_serial",
    serial,
    "-days",
    "2",
    "-sha256",
    "-extfile",
    extFile,
    "-out",
    certFile,
  ]);
  return await pair(certFile, keyFile);
}

/**
 * Makes a CA, a server certificate and a client certificate in `dir` (a new temporary directory
 * when absent; the caller removes it). Takes about 50 ms.
 *
 * @example
 * ```ts
 * const pki = await makeTestPki();
 * const client = Deno.createHttpClient({ caCerts: [pki.ca.cert], cert: pki.client.cert, key: pki.client.key });
 * client.close();
 * await Deno.remove(pki.dir, { recursive: true });
 * ```
 */
export async function makeTestPki(dir?: string, options: TestPkiOptions = {}): Promise<TestPki> {
  const where = dir ?? await Deno.makeTempDir({ prefix: "fake-apiserver-pki-" });
  await Deno.mkdir(where, { recursive: true });
  await openssl([
    "req",
    "-x509",
    ...KEY_ARGS,
    "-keyout",
    `${where}/ca.key`,
    "-out",
    `${where}/ca.crt`,
    "-subj",
    "/CN=fake-apiserver-ca",
    "-days",
    "2",
    "-sha256",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const ca = await pair(`${where}/ca.crt`, `${where}/ca.key`);
  const cn = options.clientCommonName ?? "system:kube-proxy";
  const o = options.clientOrganization ?? "system:node-proxier";
  const leaf = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n";
  const [server, client] = await Promise.all([
    signedLeaf(
      where,
      "server",
      "/CN=localhost",
      `${leaf}extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n`,
      "2",
    ),
    signedLeaf(where, "client", `/O=${o}/CN=${cn}`, `${leaf}extendedKeyUsage=clientAuth\n`, "3"),
  ]);
  return { dir: where, ca, server, client };
}
