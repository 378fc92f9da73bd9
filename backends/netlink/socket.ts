/**
 * A netlink socket from Deno: one request with its acknowledgement, a multi-part dump, and a
 * batch of many requests sent in chunks. Built to survive what was measured (REFERENCE
 * section 7):
 *
 * - replies are matched by sequence number, and the port id is read with `getsockname`
 *   (it is not always the pid), so a stray or late reply is never taken for the answer;
 * - `SO_RCVTIMEO` bounds every wait, so a lost reply fails the request instead of hanging;
 * - a batch is cut on message boundaries below the socket's send buffer (a larger send fails
 *   with EMSGSIZE) and asks for an ACK only on the last message of each chunk (thousands of
 *   ACKs overflow the receive buffer); errors still come back, one per failed message, and are
 *   mapped to the index of the message that caused them; replies lost to a full receive
 *   buffer (ENOBUFS) are reported, not guessed;
 * - the calls are synchronous (errno must be read on this thread), so long waits and batches
 *   give the event loop a turn every few milliseconds.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { check, ERRNO, lastErrno, libc, SyscallError } from "./libc.ts";
import {
  type BatchFailure,
  type BatchResult,
  errorDetails,
  failureOf,
  lostReplies,
  NetlinkError,
  type RequestContext,
} from "./replies.ts";
import {
  doneErrno,
  HOST_LITTLE_ENDIAN,
  messageSize,
  type NetlinkMessage,
  type NetlinkRequest,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  parseErrorReply,
  parseMessages,
  writeMessage,
} from "./message.ts";

// Kept here too: callers import them with the socket.
export { type BatchFailure, type BatchResult, NetlinkError, type RequestContext };

/** rtnetlink: links, addresses, routes. */
export const NETLINK_ROUTE = 0;
/** nfnetlink: ipset, conntrack. */
export const NETLINK_NETFILTER = 12;
/** generic netlink: IPVS and other families resolved by name. */
export const NETLINK_GENERIC = 16;

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_RCVTIMEO = 20;
const SO_RCVBUFFORCE = 33;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const MSG_TRUNC = 0x20;
const MSG_DONTWAIT = 0x40;
const SOCKADDR_NL_SIZE = 12;

/** Options of {@linkcode NetlinkSocket.open}. */
export interface NetlinkSocketOptions {
  /**
   * How long one receive may wait before the request fails with EAGAIN, in milliseconds.
   * @default {5000}
   */
  readonly receiveTimeoutMs?: number;
  /**
   * The receive buffer asked for (`SO_RCVBUFFORCE` as root, else capped by `rmem_max`).
   * @default {4194304}
   */
  readonly receiveBufferBytes?: number;
  /**
   * At most this many messages in one chunk of a batch, so the error replies of a chunk in
   * which every message fails still fit the receive buffer.
   * @default {1024}
   */
  readonly maxMessagesPerChunk?: number;
  /**
   * The longest the event loop is kept waiting by a batch or dump, in milliseconds.
   * @default {10}
   */
  readonly yieldEveryMs?: number;
}

const RECEIVE_BUFFER = 1 << 18;

function sockaddrNl(pid = 0): Uint8Array {
  const address = new Uint8Array(SOCKADDR_NL_SIZE);
  new DataView(address.buffer).setUint16(0, AF_NETLINK, HOST_LITTLE_ENDIAN);
  new DataView(address.buffer).setUint32(4, pid, HOST_LITTLE_ENDIAN);
  return address;
}

function int32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setInt32(0, value, HOST_LITTLE_ENDIAN);
  return bytes;
}

function timeval(ms: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setBigInt64(0, BigInt(Math.floor(ms / 1000)), HOST_LITTLE_ENDIAN);
  view.setBigInt64(8, BigInt((ms % 1000) * 1000), HOST_LITTLE_ENDIAN);
  return bytes;
}

/** A netlink socket of one protocol; see the module docs. Close it when done. */
export class NetlinkSocket {
  /** The protocol, e.g. {@linkcode NETLINK_GENERIC}. */
  readonly protocol: number;
  /** The port id the kernel gave this socket (read back, not assumed to be the pid). */
  readonly portId: number;
  /** The largest chunk a batch sends at once, in bytes (below `SO_SNDBUF`). */
  readonly chunkBytes: number;
  readonly #fd: number;
  readonly #maxMessages: number;
  readonly #yieldEveryMs: number;
  readonly #buffer = new Uint8Array(RECEIVE_BUFFER);
  #seq = 0;
  #closed = false;
  /** The end of the last operation queued: one request, dump or batch at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  #lastYield = performance.now();

  private constructor(protocol: number, fd: number, options: NetlinkSocketOptions) {
    this.protocol = protocol;
    this.#fd = fd;
    this.#maxMessages = options.maxMessagesPerChunk ?? 1024;
    this.#yieldEveryMs = options.yieldEveryMs ?? 10;
    this.portId = this.#readPortId();
    // The kernel doubles SO_SNDBUF when set and reports the doubled value, which is also the
    // limit a single send hits (212,992 by default); keep well below it.
    this.chunkBytes = Math.floor(this.#readInt(SOL_SOCKET, SO_SNDBUF) / 2);
  }

  /** Opens and binds a socket of `protocol`; throws a `SyscallError` when the kernel refuses. */
  static open(protocol: number, options: NetlinkSocketOptions = {}): NetlinkSocket {
    const c = libc();
    const fd = check("socket", c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol));
    try {
      NetlinkSocket.#configure(fd, options);
      const address = sockaddrNl();
      check("bind", c.bind(fd, address, address.length));
      return new NetlinkSocket(protocol, fd, options);
    } catch (error) {
      c.close(fd);
      throw error;
    }
  }

  static #configure(fd: number, options: NetlinkSocketOptions): void {
    const c = libc();
    const tv = timeval(options.receiveTimeoutMs ?? 5000);
    check("setsockopt SO_RCVTIMEO", c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, tv.length));
    const size = int32(options.receiveBufferBytes ?? 1 << 22);
    // SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it SO_RCVBUF gives what rmem_max allows.
    if (c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4) < 0) {
      check("setsockopt SO_RCVBUF", c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4));
    }
    // Errors carry only the request's header (small replies in a failing batch) and the
    // kernel's text. Both are optional features of the kernel (4.3 and 4.12): without them
    // errors are still reported, only longer and without the text, so a refusal is not fatal.
    c.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, int32(1), 4);
    c.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, int32(1), 4);
  }

  #readPortId(): number {
    const address = new Uint8Array(SOCKADDR_NL_SIZE);
    const length = int32(SOCKADDR_NL_SIZE);
    check("getsockname", libc().getsockname(this.#fd, address, length));
    return new DataView(address.buffer).getUint32(4, HOST_LITTLE_ENDIAN);
  }

  #readInt(level: number, name: number): number {
    const value = new Uint8Array(4);
    const length = int32(4);
    check("getsockopt", libc().getsockopt(this.#fd, level, name, value, length));
    return new DataView(value.buffer).getInt32(0, HOST_LITTLE_ENDIAN);
  }

  /**
   * Runs `operation` after every earlier one on this socket has finished. Two operations
   * interleaved at a yield would each skip the other's replies as stray, so they never are.
   */
  #exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      this.#assertOpen();
      return operation();
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    return this.#seq;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("The netlink socket is closed");
  }

  #send(bytes: Uint8Array, context: RequestContext): void {
    const destination = sockaddrNl(0);
    const sent = libc().sendto(this.#fd, bytes, BigInt(bytes.length), 0, destination, 12);
    if (sent < 0) throw new NetlinkError(context, lastErrno());
  }

  /**
   * Receives one datagram's messages; throws `SyscallError` (EAGAIN on timeout, or at once
   * when `dontWait` and nothing is queued; ENOBUFS after replies were dropped).
   */
  #receive(dontWait = false): NetlinkMessage[] {
    const buffer = this.#buffer;
    const flags = MSG_TRUNC | (dontWait ? MSG_DONTWAIT : 0);
    const n = Number(
      libc().recvfrom(this.#fd, buffer, BigInt(buffer.length), flags, null, null),
    );
    if (n < 0) throw new SyscallError("recvfrom", lastErrno());
    if (n > buffer.length) throw new SyscallError("recvfrom", ERRNO.EMSGSIZE);
    return parseMessages(buffer.slice(0, n));
  }

  #receiveFor(context: RequestContext): NetlinkMessage[] {
    try {
      return this.#receive();
    } catch (error) {
      if (error instanceof SyscallError) {
        const why = error.errno === ERRNO.EAGAIN
          ? "no reply before the receive timeout"
          : undefined;
        throw new NetlinkError(context, error.errno, { kernelText: why, cause: error });
      }
      throw error;
    }
  }

  /**
   * Gives the event loop a turn when the last one was more than `yieldEveryMs` ago: callers
   * that send many requests one by one call it between them.
   */
  async yieldIfDue(): Promise<void> {
    if (performance.now() - this.#lastYield < this.#yieldEveryMs) return;
    // setImmediate, not setTimeout(0): both let due timers and I/O run, but Deno's
    // setTimeout(0) takes ~2.3 ms to come back (measured), setImmediate ~10 µs.
    await new Promise((resolve) => setImmediate(resolve));
    this.#lastYield = performance.now();
  }

  #encode(request: NetlinkRequest, flags: number, seq: number): Uint8Array {
    const bytes = new Uint8Array(messageSize(request));
    writeMessage(bytes, 0, request, { flags: flags | NLM_F_REQUEST, seq, pid: this.portId });
    return bytes;
  }

  /**
   * Sends one request with `NLM_F_ACK` and returns the replies that came before its
   * acknowledgement (none for most writes, one for a GET of one object). Throws a
   * {@linkcode NetlinkError} naming the operation, the object and the errno.
   */
  request(request: NetlinkRequest, context: RequestContext): Promise<NetlinkMessage[]> {
    return this.#exclusive(() => this.#requestNow(request, context));
  }

  // deno-lint-ignore require-await -- async so that every failure is a rejection, never a throw
  async #requestNow(request: NetlinkRequest, context: RequestContext): Promise<NetlinkMessage[]> {
    const seq = this.#nextSeq();
    this.#send(this.#encode(request, request.flags | NLM_F_ACK, seq), context);
    const replies: NetlinkMessage[] = [];
    for (;;) {
      for (const message of this.#receiveFor(context)) {
        if (message.seq !== seq) continue; // a late reply to an earlier request
        if (message.type !== NLMSG_ERROR) {
          replies.push(message);
          continue;
        }
        const reply = parseErrorReply(message);
        if (reply.errno !== 0) throw new NetlinkError(context, reply.errno, errorDetails(reply));
        return replies;
      }
    }
  }

  /**
   * Sends a dump request (`NLM_F_DUMP` added) and returns every message up to `NLMSG_DONE`.
   * A dump interrupted by a concurrent change (`NLM_F_DUMP_INTR`) is started again, up to
   * three times. Throws a {@linkcode NetlinkError} when the kernel refuses.
   */
  dump(request: NetlinkRequest, context: RequestContext): Promise<NetlinkMessage[]> {
    return this.#exclusive(() => this.#dumpNow(request, context));
  }

  async #dumpNow(request: NetlinkRequest, context: RequestContext): Promise<NetlinkMessage[]> {
    for (let attempt = 1;; attempt++) {
      const { messages, interrupted } = await this.#dumpOnce(request, context);
      if (!interrupted) return messages;
      if (attempt === 3) {
        throw new NetlinkError(context, ERRNO.EINTR, {
          kernelText: "the dump was interrupted by concurrent changes three times",
        });
      }
    }
  }

  async #dumpOnce(request: NetlinkRequest, context: RequestContext) {
    const seq = this.#nextSeq();
    this.#send(this.#encode(request, request.flags | NLM_F_DUMP, seq), context);
    const messages: NetlinkMessage[] = [];
    let interrupted = false;
    for (;;) {
      for (const message of this.#receiveFor(context)) {
        if (message.seq !== seq) continue;
        if ((message.flags & NLM_F_DUMP_INTR) !== 0) interrupted = true;
        if (message.type === NLMSG_DONE) {
          const errno = doneErrno(message);
          if (errno !== 0) throw new NetlinkError(context, errno);
          return { messages, interrupted };
        }
        if (message.type === NLMSG_ERROR) {
          const reply = parseErrorReply(message);
          if (reply.errno !== 0) throw new NetlinkError(context, reply.errno, errorDetails(reply));
          continue;
        }
        messages.push(message);
      }
      await this.yieldIfDue();
    }
  }

  /**
   * Sends many requests in as few sends as fit (see the module docs) and reports which were
   * refused, by index. Never throws for a refused message; throws a {@linkcode NetlinkError}
   * when a send itself fails or a chunk's last reply never comes (`context` names the batch).
   */
  batch(requests: readonly NetlinkRequest[], context: RequestContext): Promise<BatchResult> {
    return this.#exclusive(() => this.#batchNow(requests, context));
  }

  async #batchNow(
    requests: readonly NetlinkRequest[],
    context: RequestContext,
  ): Promise<BatchResult> {
    const failures: BatchFailure[] = [];
    let sends = 0;
    for (const [start, end] of this.#chunks(requests)) {
      failures.push(...this.#sendChunk(requests, start, end, context));
      sends++;
      await this.yieldIfDue();
    }
    return { failures, sends };
  }

  /** Index ranges `[start, end)` of the chunks of a batch. */
  #chunks(requests: readonly NetlinkRequest[]): [number, number][] {
    const chunks: [number, number][] = [];
    let start = 0;
    let bytes = 0;
    requests.forEach((request, i) => {
      const size = messageSize(request);
      if (size > this.chunkBytes) {
        throw new NetlinkError(
          { operation: "netlink batch", object: `message ${i}` },
          ERRNO.EMSGSIZE,
          { kernelText: `${size} bytes is more than the send buffer's ${this.chunkBytes}` },
        );
      }
      if (i > start && (bytes + size > this.chunkBytes || i - start >= this.#maxMessages)) {
        chunks.push([start, i]);
        start = i;
        bytes = 0;
      }
      bytes += size;
    });
    if (start < requests.length) chunks.push([start, requests.length]);
    return chunks;
  }

  #sendChunk(
    requests: readonly NetlinkRequest[],
    start: number,
    end: number,
    context: RequestContext,
  ): BatchFailure[] {
    const firstSeq = this.#seq + 1;
    const bytes = new Uint8Array(
      requests.slice(start, end).reduce((n, r) => n + messageSize(r), 0),
    );
    let at = 0;
    for (let i = start; i < end; i++) {
      const last = i === end - 1;
      const flags = NLM_F_REQUEST | requests[i].flags | (last ? NLM_F_ACK : 0);
      at = writeMessage(bytes, at, requests[i], { flags, seq: this.#nextSeq(), pid: this.portId });
    }
    this.#send(bytes, context);
    return this.#collectChunk(start, end, firstSeq, context);
  }

  /**
   * Reads a chunk's replies until the last message's ACK or error. After ENOBUFS (replies
   * dropped) it drains what is still queued without waiting: the kernel handled the whole
   * chunk inside `sendto`, so every reply that survived is already there, and the next
   * request starts on an empty queue.
   */
  #collectChunk(
    start: number,
    end: number,
    firstSeq: number,
    context: RequestContext,
  ): BatchFailure[] {
    const lastSeq = firstSeq + (end - start - 1);
    const failures = new Map<number, BatchFailure>();
    let lost = false;
    for (;;) {
      let messages: NetlinkMessage[];
      try {
        messages = this.#receive(lost);
      } catch (error) {
        const errno = error instanceof SyscallError ? error.errno : ERRNO.EIO;
        if (errno === ERRNO.ENOBUFS) {
          lost = true;
          continue;
        }
        if (lost && errno === ERRNO.EAGAIN) return lostReplies(start, end, failures);
        throw new NetlinkError(context, errno, {
          kernelText: `waiting for the replies of messages ${start}-${end - 1}`,
          cause: error,
        });
      }
      for (const message of messages) {
        if (message.type !== NLMSG_ERROR || message.seq < firstSeq || message.seq > lastSeq) {
          continue;
        }
        const index = start + (message.seq - firstSeq);
        const failure = failureOf(index, parseErrorReply(message));
        if (failure !== undefined) failures.set(index, failure);
        if (message.seq === lastSeq && !lost) {
          return [...failures.values()].sort((a, b) => a.index - b.index);
        }
      }
    }
  }

  /** Closes the socket; later calls throw. Closing twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc().close(this.#fd);
  }
}
