/**
 * A UDP client for the end-to-end tests, started inside a network namespace by
 * `startUdpClient` (servers.ts): one socket bound to a fixed source port for its whole life (one
 * conntrack flow per destination, as a DNS resolver's or a syslog sender's), driven by stdin.
 * Each line `HOST PORT TIMEOUT_MS` sends one datagram `q` to HOST:PORT and prints the first
 * answer, or `-` when none came within TIMEOUT_MS. Prints `ready` once bound.
 *
 * Usage: `deno run --allow-net tests/kernel/udp_client.ts LOCAL_ADDRESS LOCAL_PORT`
 *
 * @module
 */

import dgram from "node:dgram";
import process from "node:process";
import { createInterface } from "node:readline";

const [localAddress, localPort] = Deno.args;
const socket = dgram.createSocket(localAddress.includes(":") ? "udp6" : "udp4");
let waiting: ((answer: string) => void) | undefined;
socket.on("message", (message) => {
  // An answer after its ask timed out is dropped: the next ask waits for its own.
  waiting?.(message.toString());
  waiting = undefined;
});

function ask(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiting = undefined;
      resolve("-");
    }, timeoutMs);
    waiting = (answer) => {
      clearTimeout(timer);
      resolve(answer);
    };
    socket.send("q", port, host);
  });
}

socket.bind(Number(localPort), localAddress, async () => {
  console.log("ready");
  for await (const line of createInterface({ input: process.stdin })) {
    const [host, port, timeoutMs] = line.trim().split(/\s+/);
    console.log(await ask(host, Number(port), Number(timeoutMs)));
  }
  socket.close();
});
