import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { ConfigError } from "../../../config.js";
import { describeError } from "../../../sources/errors.js";
import type { Logger } from "pino";
import { TopologyError, type ConsumerOptions } from "../../../consumer/types.js";
import { defaultExhaustedStream, exhaustedConsumerName, maxDeliveriesSubject } from "./message.js";
import type { NatsTarget } from "./settings.js";

/** What the consumer needs to know of the topology it checked or declared. */
export interface PreparedTopology {
  /** The stream has work-queue retention: a dead-lettered message must be removed from it. */
  workQueueStream: boolean;
  /** The stream keeping this consumer's MAX_DELIVERIES advisories. */
  exhaustedStream: string;
}

export function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/**
 * Checks, or with DECLARE=true creates, the stream and durable consumer, the dead-letter stream and
 * the stream of MAX_DELIVERIES advisories with the workers' consumer of it.
 */
export async function prepareTopology(
  manager: JetStreamManager,
  target: NatsTarget,
  options: Pick<ConsumerOptions, "declare" | "maxAttempts">,
  logger: Logger,
): Promise<PreparedTopology> {
  const { stream, consumer, subjects, deadLetterSubject, deadLetterStream } = target;
  const declare = options.declare;
  let workQueueStream: boolean;
  try {
    const info = await manager.streams.info(stream);
    workQueueStream = info.config.retention === RetentionPolicy.Workqueue;
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    if (!declare)
      throw new TopologyError(`stream ${JSON.stringify(stream)} does not exist; create it, or set DECLARE=true`);
    if (!subjects || subjects.length === 0) {
      throw new ConfigError("SUBJECTS", `required to create stream ${JSON.stringify(stream)} (DECLARE=true)`);
    }
    await manager.streams.add({
      name: stream,
      subjects,
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
    });
    workQueueStream = true;
    logger.info({ stream, subjects }, "stream created");
  }
  try {
    const info = await manager.consumers.info(stream, consumer);
    if (info.config.ack_policy !== AckPolicy.Explicit) {
      throw new TopologyError(`consumer ${JSON.stringify(consumer)} must have ack_policy explicit`);
    }
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
    if (!declare) {
      throw new TopologyError(
        `consumer ${JSON.stringify(consumer)} of stream ${JSON.stringify(stream)} does not exist; create it, or set DECLARE=true`,
      );
    }
    await manager.consumers.add(stream, {
      durable_name: consumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(target.ackWaitMs),
      max_deliver: options.maxAttempts + 1,
    });
    logger.info({ stream, consumer }, "consumer created");
  }
  await prepareDeadLetters(manager, deadLetterSubject, deadLetterStream, declare, logger);
  const exhaustedStream = await prepareExhausted(manager, target, defaultExhaustedStream(deadLetterStream), declare);
  return { workQueueStream, exhaustedStream };
}

/**
 * A stream keeping this consumer's MAX_DELIVERIES advisories (work-queue retention: each is
 * removed once handled) and the workers' durable consumer of it, which they create themselves.
 */
async function prepareExhausted(
  manager: JetStreamManager,
  target: NatsTarget,
  streamName: string,
  declare: boolean,
): Promise<string> {
  const { stream, consumer } = target;
  let exhaustedStream: string;
  const subject = maxDeliveriesSubject(stream, consumer);
  try {
    exhaustedStream = await manager.streams.find(subject);
  } catch (error) {
    if (!declare) {
      throw new TopologyError(
        `no stream stores ${JSON.stringify(subject)} (${describeError(error)}); create a work-queue stream for it, or set DECLARE=true`,
      );
    }
    try {
      await ensureStreamStores(manager, streamName, subject, RetentionPolicy.Workqueue);
    } catch (creating) {
      await manager.streams.find(subject).catch(() => {
        throw creating;
      });
    }
    exhaustedStream = await manager.streams.find(subject);
  }
  const durable = exhaustedConsumerName(consumer);
  try {
    await manager.consumers.info(exhaustedStream, durable);
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
    const config = { durable_name: durable, ack_policy: AckPolicy.Explicit, filter_subject: subject };
    // Replicas race to create it: whoever loses finds it there.
    await manager.consumers.add(exhaustedStream, config).catch(async (creating: unknown) => {
      await manager.consumers.info(exhaustedStream, durable).catch(() => {
        throw creating;
      });
    });
  }
  return exhaustedStream;
}

async function prepareDeadLetters(
  manager: JetStreamManager,
  subject: string,
  streamName: string,
  declare: boolean,
  logger: Logger,
): Promise<void> {
  try {
    await manager.streams.find(subject);
    return;
  } catch (error) {
    if (!declare) {
      throw new TopologyError(
        `no stream stores dead-letter subject ${JSON.stringify(subject)} (${describeError(error)}); create one, or set DECLARE=true`,
      );
    }
  }
  // Replicas starting together race to create or extend the stream: whoever loses finds it done.
  try {
    await ensureStreamStores(manager, streamName, subject);
  } catch (error) {
    await manager.streams.find(subject).catch(() => {
      throw error;
    });
  }
  logger.info({ stream: streamName, subject }, "dead-letter stream ready");
}

async function ensureStreamStores(
  manager: JetStreamManager,
  streamName: string,
  subject: string,
  retention: RetentionPolicy = RetentionPolicy.Limits,
): Promise<void> {
  try {
    const info = await manager.streams.info(streamName);
    const subjects = info.config.subjects ?? [];
    if (!subjects.includes(subject)) await manager.streams.update(streamName, { subjects: [...subjects, subject] });
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    await manager.streams.add({ name: streamName, subjects: [subject], retention, storage: StorageType.File });
  }
}
