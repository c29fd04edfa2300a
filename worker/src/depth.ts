import type { DepthSource, Snapshot } from "@queuescale/core";

/**
 * Keeps, of what a depth source reads, only the worker's own queue or consumer: a worker must not
 * publish series for queues it does not serve (they are the exporter's, or another worker's).
 */
export class OwnDepthSource implements DepthSource {
  readonly broker: string;
  readonly name: string;

  constructor(
    private readonly inner: DepthSource,
    private readonly identity: Readonly<Record<string, string>>,
  ) {
    this.broker = inner.broker;
    this.name = inner.name;
  }

  async poll(signal: AbortSignal): Promise<Snapshot> {
    const snapshot = await this.inner.poll(signal);
    const readings = snapshot.readings.filter(
      (reading) =>
        reading.broker === this.broker &&
        Object.entries(this.identity).every(([label, value]) => reading.labels[label] === value),
    );
    return { readings, takenAtMs: snapshot.takenAtMs };
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
