/**
 * A UDP answer server for the end-to-end tests, started inside a network namespace by
 * `startUdpServer` (servers.ts): every datagram gets `<name> <datagram>` back. Prints `ready`
 * once bound. busybox's nc has no UDP mode; node:dgram needs no unstable flag.
 *
 * Usage: `deno run --allow-net tests/kernel/udp_server.ts ADDRESS PORT NAME`
 *
 * @module
 */

import dgram from "node:dgram";

const [address, port, name] = Deno.args;
const socket = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
socket.on("message", (message, from) => {
  socket.send(`${name} ${message}`, from.port, from.address);
});
socket.bind(Number(port), address, () => console.log("ready"));
