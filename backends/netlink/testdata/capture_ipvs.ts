/**
 * Captures the kernel's IPVS replies as fixtures for `ipvs_messages_test.ts`. It needs a kernel
 * with IPVS, so it runs in the VM of tests/vm, and it empties the IPVS table:
 *
 * ```sh
 * deno run -A tests/vm/vm.ts --timeout 120 -- deno run -A backends/netlink/testdata/capture_ipvs.ts
 * ```
 *
 * Each fixture is one request's reply messages as the socket received them, header included
 * (the ACK or NLMSG_DONE left out), re-encoded with `encodeMessage`: the same bytes, since the
 * kernel pads with zeros too. The table it captures is {@linkcode CAPTURED_OPERATIONS}; the
 * kernel's text table (`ipvs_proc_table.txt`) is captured after {@linkcode PROC_TABLE_EXTRAS}.
 *
 * @module
 */

import { concatBytes, encodeMessage, type NetlinkMessage } from "../message.ts";
import { NETLINK_GENERIC, NetlinkSocket } from "../socket.ts";
import { getFamilyRequest, resolveFamily } from "../genl.ts";
import {
  encodeFlush,
  encodeGetConfig,
  encodeGetDestinations,
  encodeGetInfo,
  encodeGetServices,
  encodeIpvsOperation,
  encodeSetTimeouts,
  IPVS_FAMILY_NAME,
} from "../ipvs_messages.ts";
import { IPVS_PROC_TABLE } from "../ipvs_proc_table.ts";
import {
  CAPTURED_OPERATIONS,
  CAPTURED_TIMEOUTS,
  DNS,
  PROC_TABLE_EXTRAS,
  WEB,
} from "./ipvs_captured.ts";

const here = new URL(".", import.meta.url).pathname;

function save(name: string, messages: readonly NetlinkMessage[]): void {
  const bytes = concatBytes(
    messages.map((m) => encodeMessage({ type: m.type, flags: 0, payload: m.payload }, m)),
  );
  Deno.writeFileSync(`${here}${name}`, bytes);
  console.log(`${name}: ${messages.length} messages, ${bytes.length} bytes`);
}

async function restoreWithIpvsadm(lines: string): Promise<void> {
  const child = new Deno.Command("ipvsadm", { args: ["--restore"], stdin: "piped" }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(lines));
  await writer.close();
  const status = await child.status;
  if (!status.success) throw new Error(`ipvsadm --restore exited with ${status.code}`);
}

const socket = NetlinkSocket.open(NETLINK_GENERIC);
try {
  const context = (operation: string) => ({ operation, object: IPVS_FAMILY_NAME });
  save("ipvs_getfamily_reply.bin", await socket.request(getFamilyRequest("IPVS"), context("get")));
  const family = await resolveFamily(socket, IPVS_FAMILY_NAME);
  if (family === undefined) throw new Error("This kernel has no IPVS: run it in tests/vm");
  const request = (payload: Uint8Array) => ({ type: family.id, flags: 0, payload });
  await socket.request(request(encodeFlush()), context("flush"));
  const batch = await socket.batch(
    CAPTURED_OPERATIONS.map((op) => request(encodeIpvsOperation(op))),
    context("apply"),
  );
  if (batch.failures.length > 0) throw new Error(`refused: ${JSON.stringify(batch.failures)}`);
  await socket.request(request(encodeSetTimeouts(CAPTURED_TIMEOUTS)), context("set timeouts"));
  save("ipvs_get_service_dump.bin", await socket.dump(request(encodeGetServices()), context("s")));
  save(
    "ipvs_get_dest_dump_v4.bin",
    await socket.dump(request(encodeGetDestinations(WEB)), context("d")),
  );
  save(
    "ipvs_get_dest_dump_v6.bin",
    await socket.dump(request(encodeGetDestinations(DNS)), context("d")),
  );
  save("ipvs_get_info_reply.bin", await socket.request(request(encodeGetInfo()), context("info")));
  save("ipvs_get_config_reply.bin", await socket.request(request(encodeGetConfig()), context("c")));
  await restoreWithIpvsadm(PROC_TABLE_EXTRAS);
  const table = await Deno.readTextFile(IPVS_PROC_TABLE);
  Deno.writeTextFileSync(`${here}ipvs_proc_table.txt`, table);
  console.log(`ipvs_proc_table.txt: ${table.split("\n").length - 1} lines`);
  await socket.request(request(encodeFlush()), context("flush"));
} finally {
  socket.close();
}
