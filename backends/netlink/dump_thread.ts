/**
 * Netlink dumps on a thread of their own. The kernel builds a dump's next datagram inside
 * the `recvfrom` that takes the last one, so a dump's kernel work runs on the thread that
 * receives it, and every call here is synchronous (libc.ts says why). On the main thread,
 * the sets' dump (28,000 entries at 10,000 services, about 10 ms of kernel work) and the
 * address dump (10,500 addresses, about 8 ms) run one after the other. A
 * {@linkcode DumpThread} runs its dumps on a worker (`dump_worker.ts`, its own socket, the
 * same `NetlinkSocket.dump`), so they take another core while this thread dumps
 * the addresses, and the event loop stays free meanwhile.
 *
 * The worker is started on the first dump and does not keep the process alive while no
 * dump is pending; {@linkcode DumpThread.close} ends it. The bytes come back as the kernel
 * sent them (transferred, not copied) and are parsed here, and a refusal comes back as the
 * same {@linkcode NetlinkError}, with the caller's context.
 *
 * @module
 */

import { Worker } from "node:worker_threads";
import { type NetlinkMessage, type NetlinkRequest, parseMessages } from "./message.ts";
import { NetlinkError, type RequestContext } from "./socket.ts";

/** What runs a dump: a `NetlinkSocket` on this thread, or a {@linkcode DumpThread}. */
export interface Dumper {
  /** Every message of the dump of `request` up to `NLMSG_DONE`; see `NetlinkSocket.dump`. */
  dump(request: NetlinkRequest, context: RequestContext): Promise<NetlinkMessage[]>;
}

/** A dump the main thread asks of the worker. */
export interface DumpJob {
  readonly id: number;
  readonly protocol: number;
  readonly request: NetlinkRequest;
  readonly operation: string;
  readonly object: string;
}

/** The worker's answer: the dump's messages, each with its header, or why there are none. */
export type DumpAnswer =
  | { readonly id: number; readonly bytes: Uint8Array }
  | {
    readonly id: number;
    readonly netlink: { errno: number; kernelText?: string; echoed?: Uint8Array };
  }
  | { readonly id: number; readonly failed: { name: string; message: string } };

interface Pending {
  readonly context: RequestContext;
  readonly resolve: (messages: NetlinkMessage[]) => void;
  readonly reject: (error: Error) => void;
}

const WORKER_URL = new URL("./dump_worker.ts", import.meta.url);

/**
 * Whether a worker can be started here: Deno loads a worker's modules only with read access
 * to them (`deno run -A` has it; a process with `--allow-ffi` alone does not), and refuses
 * at once otherwise. Without it, dumps stay on the socket of this thread.
 */
export function dumpThreadAllowed(): boolean {
  if (WORKER_URL.protocol !== "file:") return true;
  const directory = new URL(".", WORKER_URL).pathname;
  return Deno.permissions.querySync({ name: "read", path: directory }).state === "granted";
}

/**
 * Dumps of one netlink protocol on a worker thread; see the module docs.
 *
 * @example
 * ```ts ignore
 * import { NETLINK_ROUTE } from "./socket.ts";
 *
 * const thread = new DumpThread(NETLINK_ROUTE);
 * const links = await thread.dump(
 *   { type: 18, flags: 0, payload: new Uint8Array(16) }, // RTM_GETLINK
 *   { operation: "dump links", object: "all" },
 * );
 * console.log(links.length);
 * await thread.close();
 * ```
 */
export class DumpThread implements Dumper {
  readonly #protocol: number;
  #worker?: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  /** Dumps of `protocol` (e.g. `NETLINK_NETFILTER`); nothing starts before the first. */
  constructor(protocol: number) {
    this.#protocol = protocol;
  }

  /** The dump of `request` on the worker; rejects as `NetlinkSocket.dump` would. */
  dump(request: NetlinkRequest, context: RequestContext): Promise<NetlinkMessage[]> {
    const worker = this.#started();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { context, resolve, reject });
      if (this.#pending.size === 1) worker.ref(); // a pending dump keeps the process alive
      const job: DumpJob = {
        id,
        protocol: this.#protocol,
        request: { type: request.type, flags: request.flags, payload: request.payload },
        operation: context.operation,
        object: context.object,
      };
      worker.postMessage(job);
    });
  }

  #started(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(WORKER_URL);
    worker.unref();
    worker.on("message", (answer: DumpAnswer) => this.#settle(answer));
    worker.on("error", (error: Error) => this.#lost(worker, error));
    worker.on("exit", (code: number) => this.#lost(worker, new Error(`exited with ${code}`)));
    this.#worker = worker;
    return worker;
  }

  #settle(answer: DumpAnswer): void {
    const pending = this.#pending.get(answer.id);
    if (pending === undefined) return;
    this.#pending.delete(answer.id);
    if (this.#pending.size === 0) this.#worker?.unref();
    if ("bytes" in answer) pending.resolve(parseMessages(answer.bytes));
    else if ("netlink" in answer) {
      const { errno, ...details } = answer.netlink;
      pending.reject(new NetlinkError(pending.context, errno, details));
    } else {
      const { operation, object } = pending.context;
      const error = new Error(`${operation} ${object}: ${answer.failed.message}`);
      error.name = answer.failed.name;
      pending.reject(error);
    }
  }

  /** The worker died: its dumps fail, naming why, and the next dump starts a new one. */
  #lost(worker: Worker, error: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      const { operation, object } = pending.context;
      pending.reject(new Error(`${operation} ${object}: the dump thread ${error.message}`));
    }
  }

  /** Ends the worker; pending dumps fail. Closing twice, or before any dump, is harmless. */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#lost(worker, new Error("was closed"));
    await worker.terminate();
  }
}
