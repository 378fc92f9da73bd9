/**
 * What the kernel answered, as errors callers can act on: the context a request carries so
 * its error names the operation and the object, {@linkcode NetlinkError}, and the per-message
 * outcome of a batch.
 *
 * @module
 */

import { describeErrno, ERRNO } from "./libc.ts";
import type { NetlinkErrorReply } from "./message.ts";

/** What a request was for, so its error names the operation and the object. */
export interface RequestContext {
  /** The operation, e.g. `ipset create` or `rtnetlink add address`. */
  readonly operation: string;
  /** The object, e.g. `KUBE-CLUSTER-IP` or `10.96.0.1/32 dev kube-ipvs0`. */
  readonly object: string;
  /** A protocol's own text for an errno it defines (ipset's codes from 4096), if any. */
  readonly explain?: (errno: number) => string | undefined;
}

/** A request the kernel refused, or one whose reply never came. */
export class NetlinkError extends Error {
  /** The operation, e.g. `ipset create`. */
  readonly operation: string;
  /** The object it was about. */
  readonly object: string;
  /** The errno (positive), e.g. 17; a protocol's own codes are kept as they came. */
  readonly errno: number;
  /** The kernel's extended-ack text, when it sent one. */
  readonly kernelText?: string;
  /** The request's payload as the kernel copied it into the error, when it did. */
  readonly echoed?: Uint8Array;

  /** An error for `context` failing with `errno`; `cause` for the underlying error. */
  constructor(
    context: RequestContext,
    errno: number,
    details: { kernelText?: string; echoed?: Uint8Array; cause?: unknown } = {},
  ) {
    const reason = context.explain?.(errno) ?? describeErrno(errno);
    const extra = details.kernelText ? `: ${details.kernelText}` : "";
    super(`${context.operation} ${context.object}: ${reason}${extra}`, { cause: details.cause });
    this.name = "NetlinkError";
    this.operation = context.operation;
    this.object = context.object;
    this.errno = errno;
    if (details.kernelText !== undefined) this.kernelText = details.kernelText;
    if (details.echoed !== undefined) this.echoed = details.echoed;
  }
}

/** One message of a batch the kernel refused. */
export interface BatchFailure {
  /** The index of the request in the batch. */
  readonly index: number;
  /** The errno (positive); ENOBUFS when the reply was lost and the outcome is unknown. */
  readonly errno: number;
  /** The kernel's extended-ack text, or why the outcome is unknown. */
  readonly text?: string;
  /** The request's payload as the kernel copied it into the error, when it did. */
  readonly echoed?: Uint8Array;
}

/** What a batch did. */
export interface BatchResult {
  /** The refused requests, by index, in order; empty when all were applied. */
  readonly failures: readonly BatchFailure[];
  /** The sends (chunks) it took; 0 for an empty batch. */
  readonly sends: number;
}

/** The failure an error reply reports, or undefined for an acknowledgement. */
export function failureOf(index: number, reply: NetlinkErrorReply): BatchFailure | undefined {
  if (reply.errno === 0) return undefined;
  return {
    index,
    errno: reply.errno,
    ...(reply.text === undefined ? {} : { text: reply.text }),
    ...(reply.request === undefined ? {} : { echoed: reply.request }),
  };
}

/** An error reply's kernel text and copied request, as {@linkcode NetlinkError} takes them. */
export function errorDetails(
  reply: NetlinkErrorReply,
): { kernelText?: string; echoed?: Uint8Array } {
  return {
    ...(reply.text === undefined ? {} : { kernelText: reply.text }),
    ...(reply.request === undefined ? {} : { echoed: reply.request }),
  };
}

/**
 * After ENOBUFS some replies were dropped: the failures already seen stand, and every other
 * message of the chunk has an unknown outcome (a success sends no reply), reported as such.
 */
export function lostReplies(
  start: number,
  end: number,
  seen: Map<number, BatchFailure>,
): BatchFailure[] {
  const result: BatchFailure[] = [];
  for (let index = start; index < end; index++) {
    result.push(
      seen.get(index) ??
        {
          index,
          errno: ERRNO.ENOBUFS,
          text: "replies were lost (receive buffer full): outcome unknown",
        },
    );
  }
  return result;
}
