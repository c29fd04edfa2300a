import { cappedBackoffMs, describeError, type Delivery, type Logger } from "@queuescale/core";
import type { Handler, HandlerContext } from "./message.js";
import type { Outcome, WorkerMetrics } from "./metrics.js";

export interface RetryPolicy {
  maxAttempts: number;
  firstDelayMs: number;
  maxDelayMs: number;
  /** Longest one attempt may run; 0: no limit. */
  handlerTimeoutMs?: number;
}

/** The handler ran past HANDLER_TIMEOUT_SECONDS: a failed attempt like any other. */
export class HandlerTimeoutError extends Error {
  override name = "HandlerTimeoutError";
}

/** Reasons travel in headers: keep them to one bounded line. */
const MAX_REASON_LENGTH = 512;

export function formatReason(error: unknown): string {
  const text = describeError(error).replace(/\s+/g, " ").trim();
  return text.length > MAX_REASON_LENGTH ? `${text.slice(0, MAX_REASON_LENGTH - 1)}…` : text;
}

/** Errors no retry can fix, recognised by name or a `permanent: true` flag so handlers need not import ours. */
export function isPermanent(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  try {
    const { name, permanent } = error as { name?: unknown; permanent?: unknown };
    return permanent === true || name === "PermanentError" || name === "DecodeError";
  } catch {
    // A getter or Proxy that throws: nothing says it is permanent, so it is retried like any failure.
    return false;
  }
}

type Decision =
  | { outcome: "ack" }
  | { outcome: "retry"; delayMs: number; reason: string }
  | { outcome: "dead_letter"; reason: string };

/**
 * Runs the handler for each delivery and settles it: ack after the handler resolves, retry with
 * backoff when it throws, dead letters when it throws a permanent error or the attempts run out.
 * Broker-agnostic: the delivery knows how its broker does each of those.
 */
export class MessageProcessor {
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly abandonController = new AbortController();
  private readonly context: HandlerContext;
  /** Each unsettled delivery with when it was taken (performance.now()). */
  private readonly unsettled = new Map<Delivery, number>();

  constructor(
    private readonly handler: Handler,
    private readonly policy: RetryPolicy,
    private readonly metrics: WorkerMetrics,
    private readonly logger: Logger,
  ) {
    this.context = { signal: this.abandonController.signal, logger };
    metrics.countInFlightWith(() => this.inFlight);
    metrics.oldestInFlightWith(() => this.oldestInFlightSeconds());
  }

  /** Seconds the longest-running unsettled message has been in the worker; 0 when none is. */
  oldestInFlightSeconds(): number {
    // Insertion order: the first entry is the oldest.
    for (const started of this.unsettled.values()) return (performance.now() - started) / 1000;
    return 0;
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  /** Takes a delivery; never throws. */
  readonly accept = (delivery: Delivery): void => {
    this.inFlight++;
    this.unsettled.set(delivery, performance.now());
    void this.processSafely(delivery).finally(() => {
      this.unsettled.delete(delivery);
      this.inFlight--;
      if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    });
  };

  /** Resolves true once nothing is in flight, or false after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([idle, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Gives up on what is still running: handlers see their signal abort, their messages are handed
   * back unsettled (the broker redelivers them) and a late result is not acted on.
   */
  abandon(): number {
    this.abandonController.abort();
    const left = [...this.unsettled.keys()];
    for (const delivery of left) delivery.release();
    return left.length;
  }

  private decide(attempt: number, error: unknown): Decision {
    const reason = formatReason(error);
    if (isPermanent(error)) return { outcome: "dead_letter", reason };
    if (attempt >= this.policy.maxAttempts) {
      return { outcome: "dead_letter", reason: `failed ${attempt} of ${this.policy.maxAttempts} attempts: ${reason}` };
    }
    const delayMs = cappedBackoffMs(attempt, this.policy.firstDelayMs, this.policy.maxDelayMs);
    return { outcome: "retry", delayMs, reason };
  }

  /**
   * process() handles every failure it expects; this is the last line: a rejection escaping here
   * would be unhandled and end the process, taking every other in-flight message with it.
   */
  private async processSafely(delivery: Delivery): Promise<void> {
    try {
      await this.process(delivery);
    } catch (error) {
      this.logger.error(
        { messageId: safely(() => delivery.message.id, "unknown"), error: describeError(error) },
        "could not process message; handing it back",
      );
      try {
        delivery.release();
      } catch {
        // The broker takes it back when the connection goes.
      }
    }
  }

  private async process(delivery: Delivery): Promise<void> {
    const { message } = delivery;
    let decision: Decision;
    if (message.attempt > this.policy.maxAttempts) {
      // Delivered again after the last attempt never finished (a crash or a timeout): running it
      // once more could crash the next replica too.
      decision = {
        outcome: "dead_letter",
        reason: `delivered ${message.attempt} times without finishing (max ${this.policy.maxAttempts} attempts)`,
      };
    } else {
      const started = performance.now();
      // The wait a latency target is about: the first start. Retries wait on purpose (backoff).
      const publishedAtMs = message.attempt === 1 ? message.publishedAtMs : undefined;
      if (publishedAtMs !== undefined) this.metrics.waited((Date.now() - publishedAtMs) / 1000);
      try {
        const result = this.runHandler(message);
        if (isThenable(result)) await result;
        decision = { outcome: "ack" };
      } catch (error) {
        decision = this.decide(message.attempt, error);
      }
      this.metrics.handled((performance.now() - started) / 1000);
    }
    if (this.abandonController.signal.aborted) return;
    await this.settle(delivery, decision);
  }

  /**
   * Runs the handler, bounded by HANDLER_TIMEOUT_SECONDS when set. A handler that runs past it is
   * told through its signal and no longer waited for: the attempt fails and the message is settled,
   * freeing its slot; whatever the handler does afterwards is ignored. Without a bound, what the
   * handler returns is handed back as it is: a handler that finishes synchronously costs no
   * promise here (per message, that shows in the throughput of light handlers).
   */
  private runHandler(message: Delivery["message"]): unknown {
    const timeoutMs = this.policy.handlerTimeoutMs ?? 0;
    if (timeoutMs <= 0) return this.handler(message, this.context);
    return this.runBounded(message, timeoutMs);
  }

  private async runBounded(message: Delivery["message"], timeoutMs: number): Promise<void> {
    const expired = new AbortController();
    const signal = AbortSignal.any([this.abandonController.signal, expired.signal]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const error = new HandlerTimeoutError(`handler timed out after ${timeoutMs / 1000} s`);
        expired.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      await Promise.race([(async () => this.handler(message, { ...this.context, signal }))(), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async settle(delivery: Delivery, decision: Decision): Promise<void> {
    const { message } = delivery;
    let settled: boolean;
    try {
      settled = await this.apply(delivery, decision);
    } catch (error) {
      // The broker refused the retry or dead-letter copy: hand the message back rather than lose it.
      this.logger.error(
        { messageId: message.id, outcome: decision.outcome, error: describeError(error) },
        "could not settle message; handing it back",
      );
      delivery.release();
      return;
    }
    if (!settled) {
      this.logger.debug({ messageId: message.id }, "connection gone before settling; the broker redelivers it");
      return;
    }
    this.metrics.settled(decision.outcome as Outcome);
    if (decision.outcome !== "ack") {
      const log = decision.outcome === "dead_letter" ? this.logger.warn : this.logger.info;
      log.call(
        this.logger,
        { messageId: message.id, attempt: message.attempt, reason: decision.reason },
        decision.outcome === "dead_letter" ? "message dead-lettered" : "message failed; retry scheduled",
      );
    }
  }

  private apply(delivery: Delivery, decision: Decision): Promise<boolean> {
    switch (decision.outcome) {
      case "ack":
        return delivery.ack();
      case "retry":
        return delivery.retry(decision.delayMs, decision.reason);
      case "dead_letter":
        return delivery.deadLetter(decision.reason);
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

function safely<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}
