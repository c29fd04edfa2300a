/**
 * Remembers for a short while that a queue exists, so a steady stream of publishes to one queue
 * does not cost a broker round trip each. Only positive answers are kept: a queue created a moment
 * ago must not be refused for the length of a cache entry. A queue deleted behind our back within
 * the window is still caught at publish time (RabbitMQ mandatory returns, JetStream no-responders).
 */
export class ExistenceCache {
  private readonly seenUntil = new Map<string, number>();

  constructor(private readonly ttlMs = 5_000) {}

  has(name: string, nowMs = Date.now()): boolean {
    const until = this.seenUntil.get(name);
    if (until === undefined) return false;
    if (until > nowMs) return true;
    this.seenUntil.delete(name);
    return false;
  }

  remember(name: string, nowMs = Date.now()): void {
    this.seenUntil.set(name, nowMs + this.ttlMs);
  }

  forget(name: string): void {
    this.seenUntil.delete(name);
  }
}

/** Settles after `ms` unless the returned cancel function runs first. */
export function deadline(ms: number, onExpire: () => void): () => void {
  const timer = setTimeout(onExpire, ms);
  timer.unref();
  return () => clearTimeout(timer);
}
