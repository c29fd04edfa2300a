import amqp, { type Channel, type ChannelModel } from "amqplib";
import type { Logger } from "pino";
import { untilAborted } from "../../util/promises.js";
import { Semaphore } from "../../util/semaphore.js";
import { classifyPollError, describeError, redactUrl } from "../../sources/errors.js";
import type { DepthSource, Snapshot } from "../../sources/types.js";
import { SourceError } from "../../sources/types.js";
import { amqpFailureReason, readingFromDeclareOk, vhostOfAmqpUrl, type DeclareOk } from "./amqp-reading.js";

/**
 * Passive declares run at most this many at a time, each on a channel of its own: amqplib allows
 * one call in flight per channel, and RabbitMQ caps channels per connection (2047 by default).
 */
const CHANNELS = 8;

/** Bounds the TCP connect and the AMQP handshake. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Rejects with a timeout SourceError when the poll is abandoned, so a hung socket cannot pin a poll. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  return untilAborted(promise, signal, () => new SourceError("timeout", `${what}: poll abandoned`));
}

function asSourceError(error: unknown, what: string): SourceError {
  if (error instanceof SourceError) return error;
  const reason = amqpFailureReason(error) ?? classifyPollError(error);
  // amqplib rejects pending calls with plain errors when the socket goes away.
  return new SourceError(reason === "unknown" ? "connection" : reason, `${what}: ${describeError(error)}`);
}

/**
 * One AMQP connection shared by the queue sources of an exporter, with a few reusable channels.
 * It is opened on first use and, after it is lost, again on the next poll; it is closed when the
 * last source using it closes.
 */
export class AmqpConnection {
  readonly vhost: string;
  private connection: ChannelModel | undefined;
  private connecting: Promise<ChannelModel> | undefined;
  /** Free channels of the current connection. */
  private idle: { model: ChannelModel; channels: Channel[] } | undefined;
  /** Checks holding a channel, and those waiting for one. */
  private readonly slots = new Semaphore(CHANNELS);
  private users = 0;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
  ) {
    this.vhost = vhostOfAmqpUrl(url);
  }

  acquire(): void {
    this.users++;
  }

  private async get(signal: AbortSignal): Promise<ChannelModel> {
    if (this.closed) throw new SourceError("connection", "AMQP connection closed");
    if (this.connection) return this.connection;
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return raceAbort(this.connecting, signal, `connect ${redactUrl(this.url)}`);
  }

  private async open(): Promise<ChannelModel> {
    let connection: ChannelModel;
    try {
      connection = await amqp.connect(this.url, { timeout: CONNECT_TIMEOUT_MS });
    } catch (error) {
      throw asSourceError(error, `connect ${redactUrl(this.url)}`);
    }
    // Without an error listener a lost connection would be an uncaught exception.
    connection.on("error", (error: unknown) => {
      this.logger.debug({ error: describeError(error) }, "AMQP connection error");
    });
    connection.on("close", () => {
      if (this.connection === connection) this.connection = undefined;
    });
    if (this.closed) {
      await connection.close().catch(() => undefined);
      throw new SourceError("connection", "AMQP connection closed");
    }
    this.connection = connection;
    return connection;
  }

  private async takeChannel(model: ChannelModel): Promise<Channel> {
    if (this.idle?.model !== model) this.idle = { model, channels: [] };
    const reused = this.idle.channels.pop();
    if (reused) return reused;
    const channel = await model.createChannel();
    // A 404 closes the channel with an error event; it is then simply not reused.
    channel.on("error", () => undefined);
    return channel;
  }

  private giveBack(model: ChannelModel, channel: Channel): void {
    if (this.idle?.model === model && !this.closed) this.idle.channels.push(channel);
    else channel.close().catch(() => undefined);
  }

  /** Passive declare of one queue. */
  check(queue: string, signal: AbortSignal): Promise<DeclareOk> {
    const what = `check queue ${queue} in vhost ${this.vhost}`;
    const attempt = this.slots.run(async () => {
      // A poll abandoned while waiting for a channel does not need its answer any more.
      if (signal.aborted) throw new SourceError("timeout", `${what}: poll abandoned`);
      const model = await this.get(signal);
      let channel: Channel;
      try {
        channel = await this.takeChannel(model);
      } catch (error) {
        this.discard();
        throw asSourceError(error, "open AMQP channel");
      }
      try {
        const reply = await channel.checkQueue(queue);
        this.giveBack(model, channel);
        return reply;
      } catch (error) {
        const failure = asSourceError(error, what);
        // 404 closed only this channel; anything else leaves the connection in doubt.
        if (failure.reason !== "not_found") this.discard();
        throw failure;
      }
    });
    return raceAbort(attempt, signal, what);
  }

  /** Forgets a connection that misbehaved, so the next poll opens a new one. */
  discard(): void {
    const connection = this.connection;
    this.connection = undefined;
    this.idle = undefined;
    connection?.close().catch(() => undefined);
  }

  async release(): Promise<void> {
    this.users--;
    if (this.users > 0) return;
    this.closed = true;
    const connection = this.connection ?? (await this.connecting?.catch(() => undefined));
    this.connection = undefined;
    this.idle = undefined;
    await connection?.close().catch(() => undefined);
  }
}

/**
 * Reads one queue with a passive declare (`checkQueue`). One source per listed queue lets a
 * missing queue be counted (reason not_found, its series absent) while the others stay.
 */
export class AmqpQueueSource implements DepthSource {
  readonly broker = "rabbitmq" as const;
  readonly name: string;

  constructor(
    private readonly connection: AmqpConnection,
    readonly queue: string,
    name?: string,
  ) {
    this.name = name ?? `amqp:${queue}`;
    connection.acquire();
  }

  async poll(signal: AbortSignal): Promise<Snapshot> {
    const reply = await this.connection.check(this.queue, signal);
    return { readings: [readingFromDeclareOk(this.connection.vhost, reply)], takenAtMs: Date.now() };
  }

  async close(): Promise<void> {
    await this.connection.release();
  }
}
