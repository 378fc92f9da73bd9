/**
 * The worker of `DumpThread` (`dump_thread.ts`): runs each `DumpJob` on a socket of its
 * protocol (opened on the first job and kept) and answers with the messages' bytes, or with
 * the errno and details of a refusal. One job at a time, in the order they came.
 *
 * @module
 */

import { parentPort } from "node:worker_threads";
import { align4, type NetlinkMessage, NLMSG_HDRLEN, writeMessage } from "./message.ts";
import { NetlinkError, NetlinkSocket } from "./socket.ts";
import type { DumpAnswer, DumpJob } from "./dump_thread.ts";

const sockets = new Map<number, NetlinkSocket>();
let queue: Promise<void> = Promise.resolve();

/** The messages back in one buffer, each with its header, as `parseMessages` reads them. */
function joined(messages: readonly NetlinkMessage[]): Uint8Array {
  let size = 0;
  for (const message of messages) size += align4(NLMSG_HDRLEN + message.payload.length);
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const message of messages) {
    at = writeMessage(bytes, at, message, {
      flags: message.flags,
      seq: message.seq,
      pid: message.pid,
    });
  }
  return bytes;
}

async function answer(job: DumpJob): Promise<DumpAnswer> {
  try {
    let socket = sockets.get(job.protocol);
    if (socket === undefined) {
      socket = NetlinkSocket.open(job.protocol);
      sockets.set(job.protocol, socket);
    }
    const context = { operation: job.operation, object: job.object };
    return { id: job.id, bytes: joined(await socket.dump(job.request, context)) };
  } catch (error) {
    if (error instanceof NetlinkError) {
      const { errno, kernelText, echoed } = error;
      return {
        id: job.id,
        netlink: {
          errno,
          ...(kernelText === undefined ? {} : { kernelText }),
          ...(echoed === undefined ? {} : { echoed }),
        },
      };
    }
    const { name, message } = error as Error;
    return { id: job.id, failed: { name, message } };
  }
}

parentPort!.on("message", (job: DumpJob) => {
  queue = queue.then(async () => {
    const reply = await answer(job);
    const transfer = "bytes" in reply ? [reply.bytes.buffer as ArrayBuffer] : [];
    parentPort!.postMessage(reply, transfer);
  });
});
