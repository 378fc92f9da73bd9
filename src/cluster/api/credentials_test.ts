import assert from "node:assert/strict";
import {
  CredentialError,
  CredentialProvider,
  type ExecCredential,
  parseExecCredential,
  runExecPlugin,
  TOKEN_FILE_REREAD_MS,
} from "./credentials.ts";

Deno.test({
  name: "a token file is read again after a minute, and at once after a 401",
  permissions: "none",
  async fn() {
    let token = "first";
    let now = 0;
    let reads = 0;
    const provider = new CredentialProvider({ kind: "tokenFile", path: "/t" }, {
      readText: () => {
        reads++;
        return Promise.resolve(`${token}\n`);
      },
      now: () => now,
    });
    assert.equal(await provider.authorization(), "Bearer first");
    token = "second";
    now = TOKEN_FILE_REREAD_MS - 1;
    assert.equal(await provider.authorization(), "Bearer first");
    now = TOKEN_FILE_REREAD_MS;
    assert.equal(await provider.authorization(), "Bearer second");
    token = "third";
    provider.invalidate();
    assert.equal(await provider.authorization(), "Bearer third");
    assert.equal(reads, 3);
  },
});

Deno.test({
  name: "an exec plugin's token is kept until it expires",
  permissions: "none",
  async fn() {
    let now = 0;
    let runs = 0;
    const provider = new CredentialProvider({
      kind: "exec",
      plugin: { command: "get-token", args: [], env: {}, apiVersion: "v1" },
    }, {
      runPlugin: (): Promise<ExecCredential> => {
        runs++;
        return Promise.resolve({ token: `t${runs}`, expiresAt: 1000 });
      },
      now: () => now,
    });
    assert.equal(await provider.authorization(), "Bearer t1");
    now = 999;
    assert.equal(await provider.authorization(), "Bearer t1");
    now = 1000;
    assert.equal(await provider.authorization(), "Bearer t2");
  },
});

Deno.test({
  name: "an unreadable token file names the file",
  permissions: "none",
  async fn() {
    const provider = new CredentialProvider({ kind: "tokenFile", path: "/var/run/token" }, {
      readText: () => Promise.reject(new Deno.errors.NotFound("gone")),
    });
    await assert.rejects(provider.authorization(), (error) => {
      assert.ok(error instanceof CredentialError);
      assert.match(error.message, /cannot read the token file "\/var\/run\/token"/);
      return true;
    });
  },
});

Deno.test({
  name: "ExecCredential status: token, client certificate and expiry are read; neither is an error",
  permissions: "none",
  fn() {
    const status = (s: unknown) => JSON.stringify({ kind: "ExecCredential", status: s });
    assert.deepEqual(
      parseExecCredential(status({ token: "x", expirationTimestamp: "2026-01-01T00:00:00Z" }), "p"),
      { token: "x", clientCert: undefined, expiresAt: Date.parse("2026-01-01T00:00:00Z") },
    );
    assert.deepEqual(
      parseExecCredential(status({ clientCertificateData: "C", clientKeyData: "K" }), "p")
        .clientCert,
      { cert: "C", key: "K" },
    );
    assert.throws(() => parseExecCredential(status({}), "plugin"), /neither a token nor/);
    assert.throws(() => parseExecCredential("oops", "plugin"), /no ExecCredential JSON/);
  },
});

Deno.test("a real exec plugin gets KUBERNETES_EXEC_INFO and its env, and its token is used", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const plugin = `${dir}/plugin.sh`;
    // Echoes the request's apiVersion and an env value back inside the token.
    await Deno.writeTextFile(
      plugin,
      `#!/bin/sh
api=$(printf '%s' "$KUBERNETES_EXEC_INFO" | sed 's/.*"apiVersion":"\\([^"]*\\)".*/\\1/')
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s-%s-%s"}}' "$api" "$api" "$REGION" "$1"
`,
    );
    await Deno.chmod(plugin, 0o755);
    const credential = await runExecPlugin({
      command: plugin,
      args: ["eu-west"],
      env: { REGION: "eu" },
      apiVersion: "client.authentication.k8s.io/v1",
    });
    assert.equal(credential.token, "client.authentication.k8s.io/v1-eu-eu-west");
    await assert.rejects(
      runExecPlugin({ command: `${dir}/missing`, args: [], env: {}, apiVersion: "v1" }),
      /exec plugin ".*missing" cannot start/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
