import type { Msg, MsgHdrs } from "@nats-io/transport-node";

/** What the worker reads of a message's delivery: JetStream puts it in the ack subject. */
export interface PulledInfo {
  stream: string;
  consumer: string;
  /** Every delivery of the message so far, this one included. */
  deliveryCount: number;
  streamSequence: number;
  /** When the stream stored the message. */
  timestampNanos: number;
}

const ACK_PREFIX = "$JS.ACK.";

/**
 * Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`,
 * or the longer form with domain and account hash after `$JS.ACK` (and a token after pending)
 * that newer servers send; undefined for anything else. Runs once per message, so it finds the
 * token boundaries with indexOf and cuts only the five tokens it reads, rather than splitting the
 * subject into a dozen strings.
 */
export function parseAckSubject(reply: string): PulledInfo | undefined {
  if (!reply.startsWith(ACK_PREFIX)) return undefined;
  // Where each token after the prefix ends.
  const ends: number[] = [];
  for (let dot = reply.indexOf(".", ACK_PREFIX.length); dot !== -1; dot = reply.indexOf(".", dot + 1)) ends.push(dot);
  ends.push(reply.length);
  const first = ends.length === 7 ? 0 : ends.length >= 9 ? 2 : -1;
  if (first < 0) return undefined;
  const token = (index: number) => reply.slice(index === 0 ? ACK_PREFIX.length : ends[index - 1]! + 1, ends[index]);
  const deliveryCount = Number(token(first + 2));
  const streamSequence = Number(token(first + 3));
  const timestampNanos = Number(token(first + 5));
  if (!Number.isSafeInteger(deliveryCount) || !Number.isSafeInteger(streamSequence)) return undefined;
  if (!Number.isFinite(timestampNanos)) return undefined;
  return { stream: token(first), consumer: token(first + 1), deliveryCount, streamSequence, timestampNanos };
}

const ACK = new TextEncoder().encode("+ACK");
const NAK = new TextEncoder().encode("-NAK");
const WORKING = new TextEncoder().encode("+WPI");

/**
 * A message the worker's pull loop received, settled by answering its ack subject as JetStream
 * expects (`+ACK`, `-NAK` with an optional delay, `+WPI` for in progress). Sent on whatever
 * connection the client has now: JetStream keys acks by the subject, not by the connection.
 */
export class PulledMessage {
  constructor(
    private readonly msg: Msg,
    readonly info: PulledInfo,
  ) {}

  /** A JetStream delivery, or undefined when `msg` has no ack subject JetStream would give it. */
  static from(msg: Msg): PulledMessage | undefined {
    const info = msg.reply ? parseAckSubject(msg.reply) : undefined;
    return info ? new PulledMessage(msg, info) : undefined;
  }

  get subject(): string {
    return this.msg.subject;
  }

  get data(): Uint8Array {
    return this.msg.data;
  }

  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }

  get seq(): number {
    return this.info.streamSequence;
  }

  ack(): void {
    this.msg.respond(ACK);
  }

  /** Delivers it again at once, or after `delayMs`. */
  nak(delayMs?: number): void {
    this.msg.respond(delayMs ? `-NAK ${JSON.stringify({ delay: delayMs * 1_000_000 })}` : NAK);
  }

  /** Restarts its ack_wait. */
  working(): void {
    this.msg.respond(WORKING);
  }
}
