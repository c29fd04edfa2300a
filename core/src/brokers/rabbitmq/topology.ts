/**
 * The names of what a worker declares next to the RabbitMQ queue it serves. They live here so that
 * whatever must tell them apart from work queues (the producer refuses to publish into them)
 * agrees with what the worker creates.
 */

/** The queue retries wait in (per-message TTL, dead-lettered back to `queue`). */
export function retryQueueName(queue: string): string {
  return `${queue}.retry`;
}

/** The queue dead letters of `queue` go to. */
export function deadQueueName(queue: string): string {
  return `${queue}.dead`;
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
