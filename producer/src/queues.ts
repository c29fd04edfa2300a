import { describeError, mergeReadings, type DepthSource, type Logger, type QueueReading } from "@queuescale/core";
import { QueueOperationError, type BrokerClient } from "./brokers/types.js";

/** One row of GET /v1/queues: the queue's name and the figures of its reading. */
export interface ListedQueue extends Pick<
  QueueReading,
  "broker" | "labels" | "depth" | "ready" | "unacked" | "consumers"
> {
  readonly name: string;
}

/**
 * Lists queues with their depths through the same core depth sources the exporter polls. Each
 * request polls the broker (concurrent requests within a second share one poll); a failed poll is
 * an error, never an empty list.
 */
export class QueueLister {
  private sources: DepthSource[] | undefined;
  private recent: { atMs: number; result: Promise<ListedQueue[]> } | undefined;

  constructor(
    private readonly client: BrokerClient,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
    private readonly reuseForMs = 1_000,
  ) {}

  private depthSources(): DepthSource[] {
    if (this.sources) return this.sources;
    let built: ReturnType<BrokerClient["depthSources"]>;
    try {
      built = this.client.depthSources(this.logger);
    } catch (error) {
      throw new QueueOperationError("unsupported", `listing queues is not available: ${describeError(error)}`, {
        cause: error,
      });
    }
    if (!Array.isArray(built)) throw new QueueOperationError("unsupported", built.unavailable);
    this.sources = built;
    return built;
  }

  list(nowMs = Date.now()): Promise<ListedQueue[]> {
    if (this.recent && nowMs - this.recent.atMs < this.reuseForMs) return this.recent.result;
    const result = this.poll();
    this.recent = { atMs: nowMs, result };
    result.catch(() => {
      // A failure is not remembered: the next request tries again.
      if (this.recent?.result === result) this.recent = undefined;
    });
    return result;
  }

  private async poll(): Promise<ListedQueue[]> {
    const sources = this.depthSources();
    let snapshots;
    try {
      snapshots = await Promise.all(sources.map((source) => source.poll(AbortSignal.timeout(this.timeoutMs))));
    } catch (error) {
      throw new QueueOperationError("unavailable", `cannot read queue depths: ${describeError(error)}`, {
        cause: error,
      });
    }
    const rows: ListedQueue[] = [];
    for (const reading of mergeReadings(snapshots.map((snapshot) => snapshot.readings))) {
      const name = this.client.queueNameOf(reading);
      if (name === undefined) continue;
      rows.push({
        name,
        broker: reading.broker,
        labels: reading.labels,
        depth: reading.depth,
        ready: reading.ready,
        unacked: reading.unacked,
        consumers: reading.consumers,
      });
    }
    return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async close(): Promise<void> {
    await Promise.all((this.sources ?? []).map((source) => source.close().catch(() => undefined)));
  }
}
