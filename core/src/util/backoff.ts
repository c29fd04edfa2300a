/** Exponential backoff: `firstMs` doubled per attempt (1-based), never above `maxMs`. */
export function cappedBackoffMs(attempt: number, firstMs: number, maxMs: number): number {
  return Math.min(firstMs * 2 ** Math.max(0, attempt - 1), maxMs);
}

/** Spreads a delay over [delay/2, delay] so replicas that lost the broker together do not return together. */
export function withJitter(delayMs: number, random: () => number = Math.random): number {
  return Math.round(delayMs / 2 + (random() * delayMs) / 2);
}

/** Reconnect delays: 0.25 s doubling to 10 s. */
export const RECONNECT_FIRST_MS = 250;
export const RECONNECT_MAX_MS = 10_000;

export function reconnectDelayMs(attempt: number): number {
  return withJitter(cappedBackoffMs(attempt, RECONNECT_FIRST_MS, RECONNECT_MAX_MS));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
