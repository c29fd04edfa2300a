import type { PubAck } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import { oneLine } from "../../../consumer/headers.js";
import type { Delivery } from "../../../consumer/types.js";
import { NatsMessage } from "./message.js";
import type { PulledMessage } from "./pulled-message.js";

/** A stored message to copy to the dead letters: a delivery, or one read back from its stream. */
export interface OriginalMessage {
  stream: string;
  consumer: string;
  subject: string;
  seq: number;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
}

/** What a delivery tells the consumer it came from. */
export interface DeliveryOwner {
  publishDeadLetter(original: OriginalMessage, reason: string, attempt: number): Promise<PubAck>;
  /**
   * Frees the delivery's slot and queues `send` (its ack or nak) for the end of this turn; false
   * when the connection is closed for good.
   */
  settled(delivery: NatsDelivery, send: () => void): boolean;
}

export class NatsDelivery implements Delivery {
  readonly message: NatsMessage;
  readonly startedMs = Date.now();
  private done = false;

  constructor(
    readonly raw: PulledMessage,
    private readonly consumer: DeliveryOwner,
  ) {
    this.message = new NatsMessage(raw);
  }

  async ack(): Promise<boolean> {
    return this.settle(() => this.raw.ack());
  }

  async retry(delayMs: number): Promise<boolean> {
    return this.settle(() => this.raw.nak(Math.max(0, Math.round(delayMs))));
  }

  async deadLetter(reason: string): Promise<boolean> {
    if (this.done) return false;
    const { raw } = this;
    // The copy must be stored (PubAck) before the original is removed. Removed with an ack, not
    // `term`: nats-server 2.9 ignores a `term` with a reason, and keeps a `term`ed message in a
    // work-queue stream; an ack removes it on every version.
    const original = {
      stream: raw.info.stream,
      consumer: raw.info.consumer,
      subject: raw.subject,
      seq: raw.seq,
      data: raw.data,
      headers: raw.headers,
    };
    await this.consumer.publishDeadLetter(original, oneLine(reason), this.message.attempt);
    return this.settle(() => raw.ack());
  }

  release(): void {
    void this.settle(() => this.raw.nak());
  }

  /** false when settled already, or when the connection is closed for good (JetStream redelivers after ack_wait). */
  private settle(send: () => void): boolean {
    if (this.done) return false;
    this.done = true;
    return this.consumer.settled(this, send);
  }
}
