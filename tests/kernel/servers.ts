/**
 * Backends and clients for the end-to-end tests, besides netns.ts's HTTP server: a TCP line
 * server that greets with its name and echoes (for connections held open), a UDP answer server,
 * and clients that each open a new connection (so the scheduler sees every request).
 *
 * @module
 */

import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import { busybox, type Netns, waitForTcp } from "./netns.ts";
import { run } from "./harness.ts";

/** A server in a namespace, stopped on dispose. */
export interface Server extends AsyncDisposable {
  /** What the server answers with first: its name. */
  readonly name: string;
  /** Stops the server (idempotent). */
  stop(): Promise<void>;
}

function stopper(child: Deno.ChildProcess, after?: () => Promise<void>): () => Promise<void> {
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.status;
    await after?.();
  };
}

/**
 * Starts a TCP server on `port` whose every connection gets `<name>\n`, then `got <line>\n` for
 * each line it sends, until it sends `bye`: then the server closes the connection. busybox nc
 * (`-ll -e`) runs one shell per connection, so held connections do not block new ones.
 */
export async function startLineServer(
  netns: Netns,
  options: { port: number; name?: string },
): Promise<Server> {
  const name = options.name ?? netns.name;
  const script = `echo ${name}; while read -r line; do ` +
    `[ "$line" = bye ] && exit 0; echo "got $line"; done`;
  const child = netns.spawn([
    busybox(),
    "nc",
    "-ll",
    "-p",
    String(options.port),
    "-e",
    busybox(),
    "sh",
    "-c",
    script,
  ]);
  const stop = stopper(child);
  try {
    await waitForTcp(netns.nsAddress, options.port);
  } catch (error) {
    await stop();
    throw error;
  }
  return { name, stop, [Symbol.asyncDispose]: stop };
}

/**
 * Starts udp_server.ts in the namespace: every datagram gets `<name> <datagram>` back. Deno
 * starts in a few seconds under TCG: start this first and await it late.
 */
export async function startUdpServer(
  netns: Netns,
  options: { port: number; name?: string },
): Promise<Server> {
  const name = options.name ?? netns.name;
  const script = new URL("./udp_server.ts", import.meta.url).pathname;
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      netns.name,
      Deno.execPath(),
      "run",
      "--allow-net",
      script,
      netns.nsAddress,
      String(options.port),
      name,
    ],
    stdin: "null",
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stop = stopper(child, async () => {
    await reader.cancel().catch(() => {});
  });
  try {
    let seen = "";
    const deadline = AbortSignal.timeout(30_000);
    while (!seen.includes("ready")) {
      if (deadline.aborted) throw new Error(`The UDP server in ${netns.name} did not start`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`The UDP server in ${netns.name} exited before it was ready`);
      seen += value;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { name, stop, [Symbol.asyncDispose]: stop };
}

/** A UDP client in a namespace, one socket on one source port for its whole life. */
export interface UdpClient extends AsyncDisposable {
  /** Sends a datagram to `host:port`; the first answer, or `undefined` after `timeoutMs`. */
  ask(host: string, port: number, timeoutMs?: number): Promise<string | undefined>;
  /** Stops the client (idempotent). */
  stop(): Promise<void>;
}

/**
 * Starts udp_client.ts in the namespace, bound to `localPort` on the namespace's address: a
 * client whose every datagram is one conntrack flow per destination, as a DNS resolver's.
 * One process for many asks, since Deno takes seconds to start under TCG.
 */
export async function startUdpClient(netns: Netns, localPort: number): Promise<UdpClient> {
  const script = new URL("./udp_client.ts", import.meta.url).pathname;
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", netns.name, Deno.execPath(), "run", "--allow-net", script]
      .concat([netns.nsAddress, String(localPort)]),
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  const nextLine = async (): Promise<string> => {
    for (;;) {
      const at = pending.indexOf("\n");
      if (at >= 0) {
        const line = pending.slice(0, at);
        pending = pending.slice(at + 1);
        return line;
      }
      const { value, done } = await lines.read();
      if (done) throw new Error(`the UDP client in ${netns.name} exited`);
      pending += value;
    }
  };
  const stop = stopper(child, async () => {
    await writer.close().catch(() => {});
    await lines.cancel().catch(() => {});
  });
  try {
    const ready = await within(nextLine(), 30_000, `the UDP client in ${netns.name} did not start`);
    if (ready !== "ready") throw new Error(`the UDP client in ${netns.name} said ${ready}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    async ask(host, port, timeoutMs = 1000) {
      await writer.write(new TextEncoder().encode(`${host} ${port} ${timeoutMs}\n`));
      const answer = await nextLine();
      return answer === "-" ? undefined : answer;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Rejects after `ms` with `message`, unless `promise` settles first. */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function readAll(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/**
 * `GET /` over a new TCP connection (HTTP/1.0: the server closes it); returns the body.
 * Throws on another status than 200 or after `timeoutMs`.
 */
export async function httpGet(host: string, port: number, timeoutMs = 5000): Promise<string> {
  const where = `http://${host}:${port}/`;
  const conn = await within(Deno.connect({ hostname: host, port }), timeoutMs, `${where}: timeout`);
  try {
    await conn.write(new TextEncoder().encode(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
    const response = await within(readAll(conn), timeoutMs, `${where}: no answer`);
    const [head, ...body] = response.split("\r\n\r\n");
    if (!/^HTTP\/1\.[01] 200 /.test(head)) throw new Error(`${where} answered: ${head}`);
    return body.join("\r\n\r\n");
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

/** The bodies of `count` requests, each on its own connection, in order. */
export async function httpGetMany(host: string, port: number, count: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < count; i++) bodies.push(await httpGet(host, port));
  return bodies;
}

/** A TCP connection to a line server, held open across syncs. */
export interface LineClient extends Disposable {
  /** The greeting: which backend took the connection. */
  readonly greeting: string;
  /** Sends `line` and returns the server's answer line. */
  ask(line: string): Promise<string>;
  /** Sends `bye`: the server closes its end; resolves when this end reads the end of stream. */
  bye(): Promise<void>;
  /** Closes this end (idempotent). */
  close(): void;
}

/**
 * Connects to a line server (through whatever address) and reads its greeting. Reads with
 * `conn.read()`, not the readable stream, which would close the socket at the end of stream.
 */
export async function lineClient(
  host: string,
  port: number,
  timeoutMs = 5000,
): Promise<LineClient> {
  const conn = await within(Deno.connect({ hostname: host, port }), timeoutMs, `${host}:${port}`);
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  let pending = "";
  let closed = false;
  const nextLine = async (): Promise<string | null> => {
    for (;;) {
      const at = pending.indexOf("\n");
      if (at >= 0) {
        const line = pending.slice(0, at);
        pending = pending.slice(at + 1);
        return line;
      }
      const n = await within(conn.read(buffer), timeoutMs, `${host}:${port}: no line`);
      if (n === null) return null;
      pending += decoder.decode(buffer.subarray(0, n));
    }
  };
  const send = (text: string) => conn.write(new TextEncoder().encode(`${text}\n`));
  const close = () => {
    if (closed) return;
    closed = true;
    conn.close();
  };
  try {
    const greeting = await nextLine();
    if (greeting === null) throw new Error(`${host}:${port} closed without a greeting`);
    return {
      greeting,
      async ask(line) {
        await send(line);
        const answer = await nextLine();
        if (answer === null) throw new Error(`${host}:${port} closed instead of answering`);
        return answer;
      },
      async bye() {
        await send("bye");
        const rest = await nextLine();
        if (rest !== null) throw new Error(`expected the end of the stream, got '${rest}'`);
      },
      close,
      [Symbol.dispose]: close,
    };
  } catch (error) {
    close();
    throw error;
  }
}

/** Sends `text` in one datagram from a new socket (from `localPort` if given), returns the first answer. */
export async function udpAsk(
  host: string,
  port: number,
  text: string,
  timeoutMs = 5000,
  localPort?: number,
): Promise<string> {
  const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  try {
    // A fixed source port is one conntrack flow across asks, as a DNS resolver's or syslog's.
    if (localPort !== undefined) {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(localPort, () => resolve());
      });
    }
    const answer = new Promise<string>((resolve, reject) => {
      socket.once("message", (message) => resolve(message.toString()));
      socket.once("error", reject);
    });
    socket.send(text, port, host);
    return await within(answer, timeoutMs, `no UDP answer from ${host}:${port}`);
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

/**
 * `GET /` from inside a namespace with busybox nc (busybox's static wget crashes in the VM):
 * the body, or `undefined` when the connection failed, within `timeoutSeconds`.
 */
export async function httpGetFrom(
  netns: Netns,
  host: string,
  port: number,
  timeoutSeconds = 2,
): Promise<string | undefined> {
  const nc = `${busybox()} nc -w ${timeoutSeconds} ${host} ${port}`;
  const request = String.raw`printf 'GET / HTTP/1.0\r\n\r\n'`;
  let response: string;
  try {
    response = await netns.exec([busybox(), "sh", "-c", `${request} | ${nc}`]);
  } catch {
    return undefined;
  }
  const [head, ...body] = response.split("\r\n\r\n");
  if (!/^HTTP\/1\.[01] 200 /.test(head)) throw new Error(`${host}:${port} answered: ${head}`);
  return body.join("\r\n\r\n");
}

/**
 * Whether a TCP connection to `host:port` from the root namespace is accepted within
 * `timeoutSeconds` (busybox nc in its own process, so a connect that hangs leaks nothing).
 */
export async function canConnect(host: string, port: number, timeoutSeconds = 1): Promise<boolean> {
  const result = await run([busybox(), "nc", "-w", String(timeoutSeconds), host, String(port)]);
  return result.code === 0;
}
