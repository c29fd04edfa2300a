/**
 * The names of what a worker declares next to the queue or consumer it serves. They live here so
 * that whatever must tell them apart from work queues (the producer refuses to publish into them)
 * agrees with what the worker creates.
 */

/** RabbitMQ: the queue retries wait in (per-message TTL, dead-lettered back to `queue`). */
export function retryQueueName(queue: string): string {
  return `${queue}.retry`;
}

/** RabbitMQ: the queue dead letters of `queue` go to. */
export function deadQueueName(queue: string): string {
  return `${queue}.dead`;
}

/** NATS: the subject dead letters of a consumer go to unless configured otherwise. */
export function defaultDeadLetterSubject(stream: string, consumer: string): string {
  return `queuescale.dead.${stream}.${consumer}`;
}

/** NATS: the stream a worker with DECLARE=true creates for dead letters unless configured otherwise. */
export function defaultDeadLetterStream(stream: string): string {
  return `${stream}_DEAD`;
}

/**
 * What an internal RabbitMQ queue name belongs to (`orders.retry` is the retry queue of
 * `orders`), or undefined for a name a worker does not use for its own bookkeeping.
 */
export function workerQueueRole(name: string): { role: "retry" | "dead-letter"; of: string } | undefined {
  for (const [suffix, role] of [
    [".retry", "retry"],
    [".dead", "dead-letter"],
  ] as const) {
    if (name.length > suffix.length && name.endsWith(suffix)) return { role, of: name.slice(0, -suffix.length) };
  }
  return undefined;
}

/** NATS: whether a stream name is a worker's default dead-letter stream (`<STREAM>_DEAD`). */
export function isDeadLetterStreamName(stream: string): boolean {
  return stream.length > "_DEAD".length && stream.endsWith("_DEAD");
}
