import { workerQueueRole } from "@queuescale/core";

/**
 * Which queues the API publishes to. A worker's retry and dead-letter queues never: a message put
 * at the head of `<queue>.retry` without an expiry blocks every retry behind it, and one put into
 * `<queue>.dead` looks like a failure that never happened. ALLOWED_QUEUES narrows the rest.
 */
export class PublishPolicy {
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];

  /** `allowed` entries are names, or prefixes ending in `*`; undefined allows every queue. */
  constructor(private readonly allowed: readonly string[] | undefined) {
    for (const entry of allowed ?? []) {
      if (entry.endsWith("*")) this.prefixes.push(entry.slice(0, -1));
      else this.exact.add(entry);
    }
  }

  /** Why the API must not publish to `name`, or undefined when it may. */
  refusal(name: string): string | undefined {
    const internal = workerQueueRole(name);
    if (internal) {
      return `queue ${name} is the worker's ${internal.role} queue of ${internal.of}; the API does not publish to it`;
    }
    if (this.allowed === undefined) return undefined;
    if (this.exact.has(name) || this.prefixes.some((prefix) => name.startsWith(prefix))) return undefined;
    return `queue ${name} is not in ALLOWED_QUEUES`;
  }
}
