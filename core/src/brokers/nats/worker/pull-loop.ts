import { createInbox, nanos, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { describeError } from "../../../sources/errors.js";
import { decidePullStatus, pullStatusOf, type PullWindow } from "./pull-window.js";
import { PulledMessage } from "./pulled-message.js";

/** How long a pull request waits on the server for messages, as consume() does by default. */
export const PULL_EXPIRES_MS = 30_000;

export interface PullLoopOptions {
  connection: NatsConnection;
  stream: string;
  consumer: string;
  window: PullWindow;
  logger: Logger;
  /** Each message received, as it is read from the socket. */
  onMessage(message: PulledMessage): void;
  /**
   * How long a request waits on the server; the server says every half of it that the request is
   * still waiting (an idle heartbeat), and two missed heartbeats re-issue every request.
   */
  expiresMs?: number;
}

/**
 * Pulls from a JetStream consumer on the core client: one inbox subscription, requests published
 * to `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` only when the window has room. Unlike
 * consume(), which sends each request in a write of its own, a request sent by `pull()` goes out
 * with whatever else was published in the same turn: the worker calls it where it sends the
 * turn's acks, so one write carries both.
 *
 * Requests are lost with the connection: after a reconnect every request is issued again, from a
 * new inbox. So is every request when the inbox has been quiet for two heartbeats while one should
 * be waiting, or after a status that stalls the loop (a deleted consumer, a refused request): that
 * re-pull is also how the loop notices that the consumer is back. The new inbox is what keeps the
 * window: JetStream drops a request nobody listens to, so one the server still kept from before
 * cannot deliver on top of the new ones.
 */
export class PullLoop {
  private inbox = createInbox();
  private readonly nextSubject: string;
  private readonly window: PullWindow;
  private readonly expires: number;
  private readonly heartbeatMs: number;
  private subscription: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private connected = true;
  private stopped = false;
  /** Why the loop stopped asking; undefined while it asks. */
  private stalledBy: string | undefined;
  /** The stall last logged, until a message arrives: a consumer deleted for long is logged once. */
  private warnedFor: string | undefined;
  /** Bumped by every message on the inbox; the heartbeat check compares it between ticks. */
  private activity = 0;
  private activityAtTick = 0;
  private quietTicks = 0;

  constructor(private readonly options: PullLoopOptions) {
    this.nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${options.stream}.${options.consumer}`;
    this.window = options.window;
    const expiresMs = options.expiresMs ?? PULL_EXPIRES_MS;
    this.expires = nanos(expiresMs);
    // The server refuses a heartbeat as long as the request's expiry.
    this.heartbeatMs = Math.max(1, Math.floor(expiresMs / 2));
  }

  start(): void {
    this.subscribe();
    this.timer = setInterval(this.check, this.heartbeatMs);
    this.timer.unref();
    this.pull();
  }

  /** Asks for as many messages as the window has room for, if that is enough to ask. */
  pull(): void {
    if (this.stopped || this.stalledBy !== undefined || !this.connected) return;
    const batch = this.window.next();
    if (batch === 0) return;
    const request = { batch, expires: this.expires, idle_heartbeat: nanos(this.heartbeatMs) };
    try {
      this.options.connection.publish(this.nextSubject, JSON.stringify(request), { reply: this.inbox });
    } catch {
      // Closed meanwhile: nothing will arrive for it.
      this.window.ended(batch);
    }
  }

  disconnected(): void {
    this.connected = false;
  }

  /** The client is back with the inbox subscribed again; its requests died with the old connection. */
  reconnected(): void {
    this.connected = true;
    this.restart();
  }

  /** Stops asking and unsubscribes; what is still on its way is left to JetStream to redeliver. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.subscription?.unsubscribe();
  }

  private subscribe(): void {
    const subscription = this.options.connection.subscribe(this.inbox, {
      callback: (error, msg) => {
        // A message of the inbox this loop left (read before the unsubscribe took effect).
        if (subscription === this.subscription) this.receive(error, msg);
      },
    });
    this.subscription = subscription;
  }

  private restart(): void {
    this.quietTicks = 0;
    this.stalledBy = undefined;
    this.subscription?.unsubscribe();
    this.inbox = createInbox();
    this.subscribe();
    this.window.lost();
    this.pull();
  }

  private receive(error: Error | null, msg: Msg): void {
    if (error) {
      // The server refused the subscription (permissions): no message can come.
      this.options.logger.error({ error: describeError(error) }, "JetStream pull loop ended");
      this.stop();
      return;
    }
    this.activity++;
    if (msg.subject !== this.inbox) {
      const message = PulledMessage.from(msg);
      if (!message) return;
      this.window.arrived();
      this.warnedFor = undefined;
      this.options.onMessage(message);
      return;
    }
    const decision = decidePullStatus(pullStatusOf(msg.headers));
    switch (decision.kind) {
      case "alive":
        return;
      case "ended":
        this.window.ended(decision.messagesLeft);
        this.pull();
        return;
      case "stalled":
        this.window.ended(decision.messagesLeft);
        if (this.warnedFor !== decision.reason) {
          this.warnedFor = decision.reason;
          this.options.logger.warn(
            { stream: this.options.stream, consumer: this.options.consumer, status: decision.reason },
            "JetStream refused the pull; asking again after two missed heartbeats",
          );
        }
        this.stalledBy = decision.reason;
        return;
      case "failed":
        this.options.logger.error({ status: decision.reason }, "JetStream pull loop ended");
        this.stop();
        return;
    }
  }

  /** Every heartbeat: asks again when the inbox stayed quiet for two while a request should wait. */
  private readonly check = (): void => {
    if (this.stopped || !this.connected) return;
    const waiting = this.window.pending > 0 || this.stalledBy !== undefined;
    const quiet = this.activity === this.activityAtTick;
    this.activityAtTick = this.activity;
    this.quietTicks = waiting && quiet ? this.quietTicks + 1 : 0;
    if (this.quietTicks >= 2) this.restart();
  };
}
