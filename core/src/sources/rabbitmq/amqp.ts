import amqp, { type Channel, type ChannelModel } from "amqplib";
import type { Logger } from "pino";
import { classifyPollError, describeError, redactUrl } from "../errors.js";
import type { DepthSource, Snapshot } from "../types.js";
import { SourceError } from "../types.js";
import { amqpFailureReason, readingFromDeclareOk, vhostOfAmqpUrl } from "./amqp-reading.js";

/** Rejects with a timeout SourceError when the poll is abandoned, so a hung socket cannot pin a poll. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new SourceError("timeout", `${what}: poll abandoned`));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new SourceError("timeout", `${what}: poll abandoned`));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function asSourceError(error: unknown, what: string): SourceError {
  if (error instanceof SourceError) return error;
  const reason = amqpFailureReason(error) ?? classifyPollError(error);
  // amqplib rejects pending calls with plain errors when the socket goes away.
  return new SourceError(reason === "unknown" ? "connection" : reason, `${what}: ${describeError(error)}`);
}

/**
 * One AMQP connection shared by the queue sources of an exporter. It is opened on first use and,
 * after it is lost, again on the next poll; it is closed when the last source using it closes.
 */
export class AmqpConnection {
  readonly vhost: string;
  private connection: ChannelModel | undefined;
  private connecting: Promise<ChannelModel> | undefined;
  private users = 0;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
    private readonly connectTimeoutMs = 10_000,
  ) {
    this.vhost = vhostOfAmqpUrl(url);
  }

  acquire(): void {
    this.users++;
  }

  async get(signal: AbortSignal): Promise<ChannelModel> {
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
      connection = await amqp.connect(this.url, { timeout: this.connectTimeoutMs });
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

  /** Forgets a connection that misbehaved, so the next poll opens a new one. */
  discard(): void {
    const connection = this.connection;
    this.connection = undefined;
    connection?.close().catch(() => undefined);
  }

  async release(): Promise<void> {
    this.users--;
    if (this.users > 0) return;
    this.closed = true;
    const connection = this.connection ?? (await this.connecting?.catch(() => undefined));
    this.connection = undefined;
    await connection?.close().catch(() => undefined);
  }
}

/**
 * Reads one queue with a passive declare (`checkQueue`) on a channel of its own: a missing queue
 * makes the broker close the channel (404), which must not take the other queues' checks with it.
 * One source per queue lets a missing queue be counted (reason not_found) while the others stay.
 */
export class AmqpQueueSource implements DepthSource {
  readonly broker = "rabbitmq" as const;
  readonly name: string;
  private channel: { model: ChannelModel; channel: Channel } | undefined;

  constructor(
    private readonly connection: AmqpConnection,
    readonly queue: string,
    name?: string,
  ) {
    this.name = name ?? `amqp:${queue}`;
    connection.acquire();
  }

  private async openChannel(signal: AbortSignal): Promise<Channel> {
    const model = await this.connection.get(signal);
    if (this.channel?.model === model) return this.channel.channel;
    let channel: Channel;
    try {
      channel = await raceAbort(model.createChannel(), signal, "open AMQP channel");
    } catch (error) {
      this.connection.discard();
      throw asSourceError(error, "open AMQP channel");
    }
    const entry = { model, channel };
    // A 404 closes the channel with an error event; the next poll opens a fresh one.
    channel.on("error", () => undefined);
    channel.on("close", () => {
      if (this.channel === entry) this.channel = undefined;
    });
    this.channel = entry;
    return channel;
  }

  async poll(signal: AbortSignal): Promise<Snapshot> {
    const channel = await this.openChannel(signal);
    try {
      const reply = await raceAbort(channel.checkQueue(this.queue), signal, `check queue ${this.queue}`);
      return { readings: [readingFromDeclareOk(this.connection.vhost, reply)], takenAtMs: Date.now() };
    } catch (error) {
      const failure = asSourceError(error, `check queue ${this.queue} in vhost ${this.connection.vhost}`);
      if (failure.reason === "not_found") {
        this.channel = undefined;
      } else {
        // A timeout or a lost socket leaves the connection in doubt: start afresh next poll.
        this.channel = undefined;
        this.connection.discard();
      }
      throw failure;
    }
  }

  async close(): Promise<void> {
    const entry = this.channel;
    this.channel = undefined;
    await entry?.channel.close().catch(() => undefined);
    await this.connection.release();
  }
}
