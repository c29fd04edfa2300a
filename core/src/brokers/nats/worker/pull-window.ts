import type { MsgHdrs } from "@nats-io/transport-node";

/**
 * The accounting of the worker's pull loop, apart from its I/O: how many messages it has asked
 * JetStream for and not received, how many it holds, how many to ask for next, and what each
 * status message on the pull inbox means. The worker holds at most `size` messages, so none waits
 * in the client while its ack_wait runs.
 */
export class PullWindow {
  /** Asked for and not arrived. */
  private requested = 0;
  /** Arrived and not settled: in a handler, or waiting for a slot. */
  private holding = 0;

  /** Asks only for at least this many, to keep the requests waiting on the server few. */
  readonly minBatch: number;

  constructor(
    readonly size: number,
    /** The consumer's max_batch, if it has one: a larger request is refused. */
    readonly maxBatch = size,
  ) {
    this.minBatch = Math.min(pullMinBatch(size), maxBatch);
  }

  get pending(): number {
    return this.requested;
  }

  get held(): number {
    return this.holding;
  }

  /** A message arrived. */
  arrived(): void {
    if (this.requested > 0) this.requested--;
    this.holding++;
  }

  /** A held message was settled (or handed back). */
  settled(): void {
    if (this.holding > 0) this.holding--;
  }

  /** The batch to ask for now, counted as requested; 0 when too few are free. */
  next(): number {
    const free = this.size - this.requested - this.holding;
    if (free < this.minBatch) return 0;
    const batch = Math.min(free, this.maxBatch);
    this.requested += batch;
    return batch;
  }

  /** The server ended a request with `messagesLeft` of its batch undelivered. */
  ended(messagesLeft: number): void {
    this.requested = Math.max(0, this.requested - messagesLeft);
  }

  /** Every request is gone (the loop moved to a new inbox): none of them will deliver any more. */
  lost(): void {
    this.requested = 0;
  }
}

/**
 * A quarter of the window: with a no-op handler a turn frees only a few slots, and asking for each
 * few would leave that many requests waiting on the server once the stream is empty (a consumer
 * takes 512 by default, from all its workers together). At most about five per worker wait.
 */
export function pullMinBatch(size: number): number {
  return Math.max(1, Math.floor(size / 4));
}

/** A status message on the pull inbox: `NATS/1.0 <code> <description>` and its headers. */
export interface PullStatus {
  code: number;
  description: string;
  /** Nats-Pending-Messages: what was left of the batch of the request the status ends. */
  pendingMessages: number;
}

/** The status a message on the pull inbox carries in its headers (code 0: none). */
export function pullStatusOf(headers: Pick<MsgHdrs, "code" | "description" | "get"> | undefined): PullStatus {
  const pending = Number(headers?.get("Nats-Pending-Messages") || 0);
  return {
    code: headers?.code ?? 0,
    description: headers?.description ?? "",
    pendingMessages: Number.isSafeInteger(pending) ? pending : 0,
  };
}

/**
 * What the loop does about a status:
 * - `alive`: nothing (an idle heartbeat: a request is still waiting);
 * - `ended`: a request ended with `messagesLeft` undelivered (it expired, or lost its leader):
 *   ask again;
 * - `stalled`: stop asking until the loop's heartbeat check re-issues every request (the consumer
 *   was deleted, the server refused the request, or nothing answers it);
 * - `failed`: the request is wrong and asking again would not change that.
 */
export type PullDecision =
  | { kind: "alive" }
  | { kind: "ended"; messagesLeft: number }
  | { kind: "stalled"; messagesLeft: number; reason: string }
  | { kind: "failed"; reason: string };

/**
 * Reads a status as the library's consume() does: a 408 (request timeout) ends a request and is
 * asked again; a 409 other than a leadership change stalls until missed heartbeats re-pull; a 400
 * ends the loop. Where consume() waits for the check after a leadership change, the worker asks
 * again at once: the new leader has no record of the request.
 */
export function decidePullStatus(status: PullStatus): PullDecision {
  const description = status.description.toLowerCase();
  const messagesLeft = Math.max(0, status.pendingMessages);
  switch (status.code) {
    case 100:
      // Idle heartbeat (flow control is for push consumers only).
      return { kind: "alive" };
    case 400:
      return { kind: "failed", reason: status.description };
    case 404:
    case 408:
      return { kind: "ended", messagesLeft };
    case 409:
      if (description === "leadership change") return { kind: "ended", messagesLeft };
      return { kind: "stalled", messagesLeft, reason: status.description };
    case 503:
      return { kind: "stalled", messagesLeft, reason: "no responders" };
    default:
      return { kind: "alive" };
  }
}

/**
 * consume() options that hold as many messages as the worker: a window of `concurrency`, asked
 * again when a quarter of it is still on its way (the library's default, three quarters, sends a
 * request per quarter). For loops compared with the worker's; the worker pulls on its own.
 */
export function jetStreamPullWindow(concurrency: number): { max_messages: number; threshold_messages: number } {
  return { max_messages: concurrency, threshold_messages: Math.max(1, Math.floor(concurrency / 4)) };
}
