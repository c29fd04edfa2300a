import { collectDefaultMetrics } from "prom-client";
import type { Logger } from "pino";
import { renderDepthBody } from "./metrics/depth.js";
import { identityKey, mergeByIdentity } from "./sources/merge.js";
import { describeError } from "./sources/errors.js";
import {
  createRegistry,
  joinExpositions,
  renderRegistry,
  type AnyRegistry,
  type ExpositionFormat,
} from "./metrics/exposition.js";
import { deflateHead, gzipHeadAndTail, type DeflatedHead } from "./metrics/gzip-parts.js";
import { SourceHealthMetrics } from "./metrics/health.js";
import { SourcePoller, type PollerTiming } from "./poller.js";
import type { DepthSource, QueueReading } from "./sources/types.js";

/**
 * One rendered `/metrics` body, shared by every scrape that arrives while it is fresh. It comes in
 * pieces, sent one after the other: the depth families, rendered (and compressed) once per poll and
 * shared by every body until the next poll, then the live registry's part of this render.
 */
export interface Exposition {
  readonly body: readonly Buffer[];
  /** The body as one gzip member, in pieces; the live part is compressed once, on first use. */
  gzipped(): Promise<readonly Buffer[]>;
}

/** The depth families of one poll's readings, as sent and (once asked for) deflated. */
interface DepthPart {
  readonly version: number;
  readonly body: Buffer;
  deflated?: Promise<DeflatedHead>;
}

/** How long a rendered body is served again; it bounds the age of the process metrics only. */
const EXPOSITION_MAX_AGE_MS = 1_000;

export interface Readiness {
  ready: boolean;
  sources: { broker: string; source: string; up: boolean; lastSuccessSecondsAgo: number | null }[];
}

/** The depth part deflated, started on first use; a failure is not kept, so the next scrape retries. */
function deflatedDepth(depth: DepthPart): Promise<DeflatedHead> {
  if (!depth.deflated) {
    const deflated = deflateHead(depth.body);
    depth.deflated = deflated;
    deflated.catch(() => {
      if (depth.deflated === deflated) depth.deflated = undefined;
    });
  }
  return depth.deflated;
}

/**
 * Owns the pollers of a process and serves `/metrics` from their last snapshots. The depth families
 * read the same in both formats: they are rendered when a poll completes (and compressed then, once
 * a scraper has asked for gzip), so a scrape only renders and compresses the small live registry
 * (source health and process metrics) and never waits on a broker.
 */
export class DepthCollector {
  readonly registry = createRegistry();
  /** Registries rendered after `registry` on every scrape (addRegistry). */
  private readonly moreRegistries: AnyRegistry[] = [];
  private readonly health = new SourceHealthMetrics(this.registry);
  private readonly pollers: SourcePoller[];
  private version = 0;
  private depth: DepthPart | undefined;
  /** Set by the first gzip scrape: from then on each poll's depth part is deflated ahead. */
  private gzipAsked = false;
  /** The merged readings of the current snapshots, built once per poll. */
  private merged: { version: number; readings: QueueReading[]; byIdentity: Map<string, QueueReading> } | undefined;
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
          try {
            this.prepareDepth();
          } catch (error) {
            // Rendered again on the next scrape, which then reports the failure.
            logger.error({ error: describeError(error) }, "rendering the depth families failed");
          }
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

  /** Current readings of every source whose last poll succeeded (the same array until the next poll). */
  readings(): readonly QueueReading[] {
    return this.current().readings;
  }

  /**
   * The current reading of one queue/consumer, from the last snapshots, or undefined when no
   * source that is up reports it. Indexed once per poll, so many callers between two polls (a
   * thousand ScaledObjects asking the external scaler) cost one merge.
   */
  find(broker: string, labels: Readonly<Record<string, string>>): QueueReading | undefined {
    return this.current().byIdentity.get(identityKey({ broker, labels }));
  }

  private current() {
    if (this.merged?.version !== this.version) {
      const byIdentity = mergeByIdentity(
        this.pollers.flatMap((poller) => (poller.snapshot ? [poller.snapshot.readings] : [])),
      );
      this.merged = { version: this.version, readings: [...byIdentity.values()], byIdentity };
    }
    return this.merged;
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
   * Serves the families of another registry after this one's, live like them: a registry with
   * default labels of its own (the worker's, which carry its queue's labels that way).
   */
  addRegistry(registry: AnyRegistry): void {
    this.moreRegistries.push(registry);
  }

  /**
   * The body to send for a scrape. Concurrent and back-to-back scrapes within a second share one
   * render of the live registry (and one gzip of it), so many scrapers cost the exporter one small
   * render a second, not one each; a new poll result is served at once.
   */
  exposition(format: ExpositionFormat, nowMs = Date.now()): Promise<Exposition> {
    const cached = this.expositions.get(format);
    if (cached && cached.version === this.version && nowMs - cached.renderedAtMs < EXPOSITION_MAX_AGE_MS) {
      return cached.exposition;
    }
    const exposition = this.assemble(format);
    this.expositions.set(format, { version: this.version, renderedAtMs: nowMs, exposition });
    // A failed render must not be served again.
    exposition.catch(() => this.expositions.delete(format));
    return exposition;
  }

  private async assemble(format: ExpositionFormat): Promise<Exposition> {
    const depth = this.prepareDepth();
    // The depth part ends in a newline; what follows it is what joinExpositions puts after it.
    const rendered = await Promise.all(
      [this.registry, ...this.moreRegistries].map((registry) => renderRegistry(registry, format)),
    );
    const liveText = joinExpositions(rendered, format);
    const live = Buffer.from(format === "prometheus" ? `\n${liveText}` : liveText, "utf8");
    let compressed: Promise<readonly Buffer[]> | undefined;
    return {
      body: [depth.body, live],
      gzipped: () => {
        this.gzipAsked = true;
        compressed ??= deflatedDepth(depth).then((head) => gzipHeadAndTail(head, live));
        return compressed;
      },
    };
  }

  /** The depth families of the current snapshots, rendered once per poll. */
  private prepareDepth(): DepthPart {
    if (this.depth?.version !== this.version) {
      const body = renderDepthBody(this.readings());
      const depth: DepthPart = { version: this.version, body };
      // A failure surfaces in the scrape that asks for it; it must not go unhandled meanwhile.
      if (this.gzipAsked) deflatedDepth(depth).catch(() => undefined);
      this.depth = depth;
    }
    return this.depth;
  }
}
