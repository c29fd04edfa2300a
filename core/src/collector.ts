import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import { collectDefaultMetrics } from "prom-client";
import type { Logger } from "pino";
import { renderDepthFamilies } from "./metrics/depth.js";
import { identityKey, mergeReadings } from "./sources/merge.js";
import { describeError } from "./sources/errors.js";
import { createRegistry, joinExpositions, renderRegistry, type ExpositionFormat } from "./metrics/exposition.js";
import { SourceHealthMetrics } from "./metrics/health.js";
import { SourcePoller, type PollerTiming } from "./poller.js";
import type { DepthSource, QueueReading } from "./sources/types.js";

const gzip = promisify(gzipCallback);

/** One rendered `/metrics` body, shared by every scrape that arrives while it is fresh. */
export interface Exposition {
  readonly body: Buffer;
  /** The body gzip-compressed, computed once on first use. */
  gzipped(): Promise<Buffer>;
}

/** How long a rendered body is served again; it bounds the age of the process metrics only. */
const EXPOSITION_MAX_AGE_MS = 1_000;

export interface Readiness {
  ready: boolean;
  sources: { broker: string; source: string; up: boolean; lastSuccessSecondsAgo: number | null }[];
}

/**
 * Owns the pollers of a process and serves `/metrics` from their last snapshots. The depth families
 * are rendered once per poll and cached per format; a scrape only renders the small live registry
 * (source health and process metrics) and never waits on a broker.
 */
export class DepthCollector {
  readonly registry = createRegistry();
  private readonly health = new SourceHealthMetrics(this.registry);
  private readonly pollers: SourcePoller[];
  private version = 0;
  private rendered: { version: number; text: string } | undefined;
  private indexed: { version: number; byIdentity: Map<string, QueueReading> } | undefined;
  private readonly pollListeners = new Set<() => void>();
  private readonly expositions = new Map<
    ExpositionFormat,
    { version: number; renderedAtMs: number; exposition: Promise<Exposition> }
  >();

  constructor(
    sources: readonly DepthSource[],
    private readonly timing: PollerTiming,
    private readonly logger: Logger,
  ) {
    collectDefaultMetrics({ register: this.registry });
    this.pollers = sources.map(
      (source) =>
        new SourcePoller(source, timing, this.health, logger, () => {
          this.version++;
          for (const listener of this.pollListeners) {
            try {
              listener();
            } catch (error) {
              // A listener's bug must not stop the polling.
              logger.error({ error: describeError(error) }, "poll listener failed");
            }
          }
        }),
    );
  }

  start(): void {
    for (const poller of this.pollers) poller.start();
  }

  /** Polls every source once, in parallel; for tests and one-shot commands. */
  async pollAll(): Promise<void> {
    await Promise.all(this.pollers.map((poller) => poller.pollOnce()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.pollers.map((poller) => poller.stop()));
  }

  /** Current readings of every source whose last poll succeeded. */
  readings(): QueueReading[] {
    return mergeReadings(this.pollers.flatMap((poller) => (poller.snapshot ? [poller.snapshot.readings] : [])));
  }

  /**
   * The current reading of one queue/consumer, from the last snapshots, or undefined when no
   * source that is up reports it. Indexed once per poll, so many callers between two polls (a
   * thousand ScaledObjects asking the external scaler) cost one merge.
   */
  find(broker: string, labels: Readonly<Record<string, string>>): QueueReading | undefined {
    if (this.indexed?.version !== this.version) {
      const byIdentity = new Map(this.readings().map((reading) => [identityKey(reading), reading]));
      this.indexed = { version: this.version, byIdentity };
    }
    return this.indexed.byIdentity.get(identityKey({ broker, labels }));
  }

  /** The broker and whether the last poll succeeded, per source. */
  sourceStates(): { broker: string; source: string; up: boolean }[] {
    return this.pollers.map((poller) => ({
      broker: poller.source.broker,
      source: poller.source.name,
      up: poller.snapshot !== undefined,
    }));
  }

  /** Calls `listener` after every poll of any source, successful or not; returns the unsubscribe. */
  onPoll(listener: () => void): () => void {
    this.pollListeners.add(listener);
    return () => this.pollListeners.delete(listener);
  }

  /**
   * Ready when every source has succeeded within the last few intervals. An exporter that cannot
   * read a broker still serves `/metrics` (with `up` 0) but tells Kubernetes it is not ready.
   */
  readiness(nowMs = Date.now()): Readiness {
    const freshForMs = Math.max(3 * this.timing.intervalMs, this.timing.intervalMs + this.timing.timeoutMs);
    const sources = this.pollers.map((poller) => {
      const last = poller.lastSuccessMs;
      return {
        broker: poller.source.broker,
        source: poller.source.name,
        up: poller.snapshot !== undefined,
        lastSuccessSecondsAgo: last === undefined ? null : Math.round((nowMs - last) / 100) / 10,
      };
    });
    const ready = this.pollers.every(
      (poller) => poller.lastSuccessMs !== undefined && nowMs - poller.lastSuccessMs <= freshForMs,
    );
    return { ready, sources };
  }

  /**
   * The body to send for a scrape. Concurrent and back-to-back scrapes within a second share one
   * render (and one gzip), so many scrapers cost the exporter one render a second, not one each;
   * a new poll result is served at once.
   */
  exposition(format: ExpositionFormat, nowMs = Date.now()): Promise<Exposition> {
    const cached = this.expositions.get(format);
    if (cached && cached.version === this.version && nowMs - cached.renderedAtMs < EXPOSITION_MAX_AGE_MS) {
      return cached.exposition;
    }
    const exposition = this.render(format).then((text): Exposition => {
      const body = Buffer.from(text, "utf8");
      let compressed: Promise<Buffer> | undefined;
      return { body, gzipped: () => (compressed ??= gzip(body)) };
    });
    this.expositions.set(format, { version: this.version, renderedAtMs: nowMs, exposition });
    // A failed render must not be served again.
    exposition.catch(() => this.expositions.delete(format));
    return exposition;
  }

  /** The whole exposition: cached depth families followed by the live registry. */
  async render(format: ExpositionFormat): Promise<string> {
    // The depth families read the same in both formats: rendered once per poll.
    if (this.rendered?.version !== this.version) {
      this.rendered = { version: this.version, text: renderDepthFamilies(this.readings()) };
    }
    const depthText = this.rendered.text;
    const liveText = await renderRegistry(this.registry, format);
    return joinExpositions([depthText, liveText], format);
  }
}
