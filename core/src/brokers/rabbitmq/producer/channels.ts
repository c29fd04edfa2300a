import type { Channel, ChannelModel, ConfirmChannel, Message } from "amqplib";
import { withTimeout } from "../../../util/promises.js";
import { describeError } from "../../../sources/errors.js";
import type { Logger } from "pino";
import { QueueOperationError } from "../../../publisher/types.js";

const ignore = () => undefined;

/** Closes a channel without waiting: on a stalled connection the close-ok never comes. */
function closeQuietly(channel: Channel): void {
  channel.close().catch(ignore);
}

function returnKey(queue: string, messageId: string | undefined): string {
  return `${queue}\u0000${messageId ?? ""}`;
}

/**
 * A confirm channel lent to one publish request at a time. RabbitMQ answers a message it cannot
 * take (a malformed header, say) by closing the channel it came on, which fails every publish in
 * flight on that channel: a channel of its own per request keeps that failure to the request
 * that caused it.
 */
export class PublishChannel {
  private open = true;
  /** Publishes awaiting their confirm, by routing key and message id, oldest first. */
  private readonly pendingReturns = new Map<string, { returned: boolean }[]>();

  constructor(
    readonly channel: ConfirmChannel,
    logger: Logger,
  ) {
    channel.on("error", (error: Error) => {
      logger.warn({ error: describeError(error) }, "RabbitMQ closed a publish channel");
    });
    channel.on("close", () => {
      this.open = false;
    });
    channel.on("return", (message: Message) => {
      const waiting = this.pendingReturns.get(returnKey(message.fields.routingKey, message.properties.messageId));
      const first = waiting?.find((entry) => !entry.returned);
      if (first) first.returned = true;
    });
  }

  get isOpen(): boolean {
    return this.open;
  }

  /**
   * Notes a message about to be published so a `basic.return` for it (which RabbitMQ sends before
   * the confirm) can be told apart; returns whether it came back, and stops tracking, on call.
   */
  track(queue: string, messageId: string): () => boolean {
    const key = returnKey(queue, messageId);
    const tracker = { returned: false };
    const waiting = this.pendingReturns.get(key);
    if (waiting) waiting.push(tracker);
    else this.pendingReturns.set(key, [tracker]);
    let done = false;
    return () => {
      if (!done) {
        done = true;
        const list = this.pendingReturns.get(key);
        if (list) {
          list.splice(list.indexOf(tracker), 1);
          if (list.length === 0) this.pendingReturns.delete(key);
        }
      }
      return tracker.returned;
    };
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    closeQuietly(this.channel);
  }
}

/**
 * The confirm channels of one connection: a request takes an idle one or opens a new one, and
 * gives it back when every message it sent is settled. A channel the broker closed, or one with
 * confirms still outstanding, is never handed out again.
 */
export class PublishChannelPool {
  private readonly idle: PublishChannel[] = [];
  private dropped = false;

  constructor(
    private readonly connection: ChannelModel,
    private readonly logger: Logger,
    private readonly openTimeoutMs: number,
    private readonly maxIdle = 32,
  ) {}

  /** An open confirm channel for one request; QueueOperationError "unavailable" if none opens in time. */
  async acquire(): Promise<PublishChannel> {
    for (let reused = this.idle.pop(); reused; reused = this.idle.pop()) {
      if (reused.isOpen) return reused;
    }
    const channel = await openChannel(
      () => this.connection.createConfirmChannel(),
      this.openTimeoutMs,
      "a publish channel",
    );
    return new PublishChannel(channel, this.logger);
  }

  release(channel: PublishChannel, reusable: boolean): void {
    if (reusable && channel.isOpen && !this.dropped && this.idle.length < this.maxIdle) this.idle.push(channel);
    else channel.close();
  }

  /** The connection is gone: nothing in the pool is usable any more. */
  drop(): void {
    this.dropped = true;
    for (const channel of this.idle.splice(0)) channel.close();
  }
}

/**
 * Opens a channel within `timeoutMs` (a stalled connection never answers channel.open). One that
 * opens after the deadline is closed at once.
 */
export async function openChannel<C extends Channel>(
  open: () => Promise<C>,
  timeoutMs: number,
  what: string,
): Promise<C> {
  const opening = open();
  try {
    const channel = await withTimeout(
      opening,
      timeoutMs,
      () => new Error(`RabbitMQ did not open ${what} within ${timeoutMs / 1000} s`),
    );
    // A broker-closed channel emits "error"; without a listener that would be an uncaught throw.
    channel.on("error", ignore);
    return channel;
  } catch (error) {
    opening.then((late) => {
      late.on("error", ignore);
      closeQuietly(late);
    }, ignore);
    throw new QueueOperationError("unavailable", `cannot open a RabbitMQ channel: ${describeError(error)}`, {
      cause: error,
    });
  }
}

/** Runs a broker operation within `timeoutMs`; QueueOperationError "unavailable" when it does not answer. */
export function answerWithin<T>(operation: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return withTimeout(
    operation,
    timeoutMs,
    () =>
      new QueueOperationError(
        "unavailable",
        `RabbitMQ did not answer ${what} within PUBLISH_TIMEOUT_SECONDS (${timeoutMs / 1000} s)`,
      ),
  );
}
