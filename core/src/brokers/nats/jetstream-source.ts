import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { Semaphore } from "../../util/semaphore.js";
import { untilAborted } from "../../util/promises.js";
import type { NameFilter } from "../../sources/filter.js";
import { SourceError, type DepthSource, type QueueReading, type Snapshot } from "../../sources/types.js";
import { decodeAnswer } from "../../sources/body.js";
import {
  ageSeconds,
  consumerDepth,
  consumerReading,
  exportedConsumers,
  firstUnfinishedLookups,
  oldestLookupKey,
  type ConsumerState,
} from "./consumer.js";
import {
  consumerListSubject,
  joinConsumerPages,
  parseConsumerListAnswer,
  remainingPageOffsets,
} from "./consumer-list.js";
import { natsConnectionOptions, natsSourceError } from "./connection.js";
import { earliestMessage, parseMessageGetResponse, type StoredMessageRef } from "./message.js";

/** Message look-ups for the oldest-message age in flight at once. */
const AGE_LOOKUPS = 64;

/** Consumer list pages asked for at once, over all streams. */
const PAGE_REQUESTS = 16;

export interface JetStreamSourceOptions {
  connection: ConnectionOptions;
  filter: NameFilter;
  logger: Logger;
  /** Bound on each API request; a poll is also cut short by the poller's own timeout. Default 5 s. */
  requestTimeoutMs?: number;
}

/** What the age look-up needs to know of a stream. */
interface StreamFacts {
  firstSeq: number;
  /** max_msgs_per_subject is set: the stream may delete any message, not only its oldest. */
  perSubjectLimit: boolean;
}

interface ApiConnection {
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** False between a disconnect and the client's reconnect. */
  connected: boolean;
  /**
   * Rejects when the connection drops. Requests in flight at that moment would otherwise wait in
   * the client's buffer for the reconnect, and the poll would end as a timeout instead of saying
   * what happened; a new promise is set on each reconnect.
   */
  lost: Promise<never>;
}

function lostPromise(): { promise: Promise<never>; reject: (error: Error) => void } {
  let reject!: (error: Error) => void;
  const promise = new Promise<never>((_resolve, rejectLost) => {
    reject = rejectLost;
  });
  // Nobody may be waiting when the connection drops.
  promise.catch(() => {});
  return { promise, reject };
}

/**
 * Reads durable consumers through the JetStream API over one NATS connection, kept across polls.
 * The client reconnects by itself; while it is disconnected a poll fails at once rather than
 * queueing requests behind the reconnect (they would time out, or worse, answer late).
 *
 * Per poll: the stream list, each stream's consumer list (its pages after the first asked for
 * together, a bounded number in flight), and for each consumer with depth > 0
 * one message look-up for the oldest-message age (STREAM.MSG.GET with `next_by_subj`, which
 * servers have accepted since 2.9), a bounded number in flight at once. A look-up is reused on the
 * next poll while the consumer's ack floor has not moved, so steady polls only ask about consumers
 * that made progress.
 */
export class JetStreamSource implements DepthSource {
  readonly broker = "nats" as const;
  readonly name = "jetstream";
  private session: ApiConnection | undefined;
  private opening: Promise<ApiConnection> | undefined;
  private closed = false;
  private readonly requestTimeoutMs: number;
  private readonly lookups: Semaphore;
  private readonly pages = new Semaphore(PAGE_REQUESTS);
  /** Oldest unfinished message per consumer, kept from the last poll (keyed by oldestLookupKey). */
  private oldestCache = new Map<string, StoredMessageRef>();

  constructor(private readonly options: JetStreamSourceOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.lookups = new Semaphore(AGE_LOOKUPS);
  }

  async poll(signal: AbortSignal): Promise<Snapshot> {
    const session = await untilAborted(this.currentSession(), signal);
    if (!session.connected) throw new SourceError("connection", "not connected to NATS (the client is reconnecting)");
    try {
      const readings = await untilAborted(Promise.race([this.read(session), session.lost]), signal);
      return { readings, takenAtMs: Date.now() };
    } catch (error) {
      if (signal.aborted) throw error;
      throw natsSourceError(error, "reading JetStream consumers");
    }
  }

  private async read(session: ApiConnection): Promise<QueueReading[]> {
    const { streams, consumers } = await this.listConsumers(session);
    const exported = exportedConsumers(consumers, this.options.filter);
    const nowMs = Date.now();
    const remembered = new Map<string, StoredMessageRef>();
    const readings: QueueReading[] = [];
    // Only the consumers whose oldest message is not known from the last poll wait for a look-up;
    // the rest (all of them while nothing moves) are read without a promise each.
    const lookups: Promise<void>[] = [];
    for (const consumer of exported) {
      if (consumerDepth(consumer) === 0) {
        readings.push(consumerReading(consumer));
        continue;
      }
      const key = oldestLookupKey(consumer);
      const stream = streams.get(consumer.stream_name);
      const oldest = this.oldestCache.get(key);
      // The stream may have dropped that message since (limits, purge), which moves its first
      // sequence past it; with a per-subject limit it may drop any message, so no reuse there.
      const reusable =
        oldest !== undefined &&
        stream !== undefined &&
        stream.perSubjectLimit === false &&
        oldest.seq >= stream.firstSeq;
      if (reusable) {
        remembered.set(key, oldest);
        readings.push(consumerReading(consumer, ageSeconds(oldest.storedAtMs, nowMs)));
        continue;
      }
      const index = readings.push(consumerReading(consumer)) - 1;
      lookups.push(
        this.lookups
          .run(() => this.firstUnfinished(session.nc, consumer))
          .then((found) => {
            if (!found) return;
            remembered.set(key, found);
            readings[index] = consumerReading(consumer, ageSeconds(found.storedAtMs, nowMs));
          }),
      );
    }
    await Promise.all(lookups);
    // Only what this poll used, so consumers that went away are forgotten.
    this.oldestCache = remembered;
    return readings;
  }

  private async listConsumers(
    session: ApiConnection,
  ): Promise<{ streams: Map<string, StreamFacts>; consumers: ConsumerState[] }> {
    const streams = new Map<string, StreamFacts>();
    for await (const stream of session.jsm.streams.list()) {
      streams.set(stream.config.name, {
        firstSeq: stream.state.first_seq,
        perSubjectLimit: (stream.config.max_msgs_per_subject ?? -1) > 0,
      });
    }
    const perStream = await Promise.all([...streams.keys()].map((stream) => this.streamConsumers(session.nc, stream)));
    return { streams, consumers: perStream.flat() };
  }

  /** A stream's consumers: the first page, then every other page at once. None when the stream is gone. */
  private async streamConsumers(nc: NatsConnection, stream: string): Promise<ConsumerState[]> {
    const subject = consumerListSubject(stream);
    const page = (offset: number) =>
      this.pages.run(async () => {
        const answer = await nc.request(subject, JSON.stringify({ offset }), { timeout: this.requestTimeoutMs });
        return parseConsumerListAnswer(answer.data);
      });
    const first = await page(0);
    if (!first) return [];
    const rest = await Promise.all(remainingPageOffsets(first).map(page));
    // Deleted while its pages were read: it has no consumers any more.
    if (rest.includes(null)) return [];
    return joinConsumerPages([first, ...rest.filter((found) => found !== null)]);
  }

  /** The consumer's oldest unfinished message, or null if none is stored. */
  private async firstUnfinished(nc: NatsConnection, consumer: ConsumerState): Promise<StoredMessageRef | null> {
    const subject = `$JS.API.STREAM.MSG.GET.${consumer.stream_name}`;
    const found = await Promise.all(
      firstUnfinishedLookups(consumer).map(async (query) => {
        const answer = await nc.request(subject, JSON.stringify(query), { timeout: this.requestTimeoutMs });
        return parseMessageGetResponse(decodeAnswer(answer.data));
      }),
    );
    return earliestMessage(found);
  }

  private currentSession(): Promise<ApiConnection> {
    if (this.closed) return Promise.reject(new SourceError("connection", "source closed"));
    if (this.session && !this.session.nc.isClosed()) return Promise.resolve(this.session);
    this.session = undefined;
    // One connection attempt at a time; a poll arriving meanwhile waits for the same one.
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async open(): Promise<ApiConnection> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        ...this.options.connection,
        name: "queuescale-exporter",
        // A lost server is retried forever; polls meanwhile fail with reason "connection".
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        timeout: this.requestTimeoutMs,
        // Notices a silently dead connection (no RST) within half a minute.
        pingInterval: 10_000,
        maxPingOut: 3,
        // A request otherwise captures two stack traces when it is made (tens of page requests and
        // look-ups a poll); failures are reported by reason and message, which stay the same.
        noAsyncTraces: true,
      });
    } catch (error) {
      throw natsSourceError(error, "connecting to NATS");
    }
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(nc, { timeout: this.requestTimeoutMs });
    } catch (error) {
      await nc.close().catch(() => {});
      throw natsSourceError(error, "opening the JetStream API");
    }
    const lost = lostPromise();
    const session: ApiConnection = { nc, jsm, connected: true, lost: lost.promise };
    void this.watch(session, lost.reject);
    if (this.closed) {
      await nc.close();
      throw new SourceError("connection", "source closed");
    }
    this.session = session;
    this.options.logger.info({ source: this.name, server: nc.getServer() }, "connected to NATS");
    return session;
  }

  private async watch(session: ApiConnection, markLost: (error: Error) => void): Promise<void> {
    for await (const status of session.nc.status()) {
      if (status.type === "disconnect") {
        session.connected = false;
        markLost(new SourceError("connection", "lost the connection to NATS"));
        this.options.logger.info({ source: this.name }, "disconnected from NATS; reconnecting");
      } else if (status.type === "reconnect") {
        const lost = lostPromise();
        session.lost = lost.promise;
        markLost = lost.reject;
        session.connected = true;
        this.options.logger.info({ source: this.name }, "reconnected to NATS");
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const session = this.session ?? (await this.opening?.catch(() => undefined));
    this.session = undefined;
    if (session && !session.nc.isClosed()) await session.nc.close();
  }
}

/**
 * The JetStream API source over NATS_URL alone, for the programs that have no exporter settings:
 * a worker's own consumer (a filter of its stream and consumer), the producer's queue list.
 */
export function jetStreamDepthSources(url: string, filter: NameFilter, logger: Logger): DepthSource[] {
  return [new JetStreamSource({ connection: natsConnectionOptions(url), filter, logger })];
}
