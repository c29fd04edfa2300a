import type { Logger } from "pino";
import type { BrokerAdapter } from "./brokers/adapter.js";
import { BROKER_ADAPTERS } from "./brokers/index.js";
import type { PollErrorReason } from "./contract.js";
import { classifyPollError, describeError } from "./sources/errors.js";
import { SourceError, type DepthSource, type Snapshot } from "./sources/types.js";
import type { SourceHealthMetrics } from "./metrics/health.js";

/**
 * The reason label of a failed poll: the source's own when it says one, else its broker's
 * classification of its client's errors, else the generic one (sockets, fetch, time-outs).
 */
function failureReason(broker: string, error: unknown): PollErrorReason {
  if (error instanceof SourceError) return error.reason;
  const adapter: BrokerAdapter | undefined = BROKER_ADAPTERS.find((candidate) => candidate.name === broker);
  return adapter?.classifyError?.(error) ?? classifyPollError(error);
}

export interface PollerTiming {
  intervalMs: number;
  /** A poll slower than this is abandoned and counted as a timeout. */
  timeoutMs: number;
  /** First retry delay after a failure; doubles per failure, capped at intervalMs. */
  firstRetryMs?: number;
}

/**
 * Polls one source in the background and keeps its last good snapshot. A failed poll drops the
 * snapshot at once: an outage must make the depth series vanish (the HPA then holds), never leave
 * a stale value or a zero behind.
 */
export class SourcePoller {
  private current: Snapshot | undefined;
  private lastSuccess: number | undefined;
  private consecutiveFailures = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly stopController = new AbortController();

  constructor(
    readonly source: DepthSource,
    private readonly timing: PollerTiming,
    private readonly health: SourceHealthMetrics,
    private readonly logger: Logger,
    private readonly onPoll: () => void = () => {},
  ) {
    health.register(source);
  }

  /** Last successful snapshot, or undefined when the last poll failed or none has run yet. */
  get snapshot(): Snapshot | undefined {
    return this.current;
  }

  /** Unix ms of the last successful poll. */
  get lastSuccessMs(): number | undefined {
    return this.lastSuccess;
  }

  start(): void {
    this.schedule(0);
  }

  /** Runs one poll now; used by start() and by tests. */
  async pollOnce(): Promise<void> {
    const started = performance.now();
    const signal = AbortSignal.any([this.stopController.signal, AbortSignal.timeout(this.timing.timeoutMs)]);
    try {
      const snapshot = await this.source.poll(signal);
      const seconds = (performance.now() - started) / 1000;
      this.current = snapshot;
      this.lastSuccess = snapshot.takenAtMs;
      if (this.consecutiveFailures > 0) {
        this.logger.info({ source: this.source.name, failures: this.consecutiveFailures }, "depth source recovered");
      }
      this.consecutiveFailures = 0;
      this.health.recordSuccess(this.source, seconds, snapshot.takenAtMs);
    } catch (error) {
      if (this.stopController.signal.aborted) return;
      const seconds = (performance.now() - started) / 1000;
      const reason = signal.aborted ? "timeout" : failureReason(this.source.broker, error);
      this.current = undefined;
      this.consecutiveFailures++;
      this.health.recordFailure(this.source, seconds, reason);
      // One line per outage, then quiet until it recovers: a broker down for an hour must not
      // flood the logs.
      const log =
        this.consecutiveFailures === 1 ? this.logger.warn.bind(this.logger) : this.logger.debug.bind(this.logger);
      log({ source: this.source.name, reason, error: describeError(error) }, "depth source poll failed");
    } finally {
      this.onPoll();
    }
  }

  private nextDelayMs(): number {
    if (this.consecutiveFailures === 0) return this.timing.intervalMs;
    const first = this.timing.firstRetryMs ?? 250;
    // Capped at the interval so a recovered broker is seen again within one interval.
    return Math.min(first * 2 ** (this.consecutiveFailures - 1), this.timing.intervalMs);
  }

  private schedule(delayMs: number): void {
    if (this.stopController.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.running = this.pollOnce().then(() => this.schedule(this.nextDelayMs()));
    }, delayMs);
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.source.close();
  }
}
