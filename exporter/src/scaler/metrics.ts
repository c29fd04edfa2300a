import { Counter, Gauge } from "prom-client";
import { SCALER_METRICS, type AnyRegistry } from "@queuescale/core";

/** The scaler's own families, on the exporter's live registry. */
export class ScalerMetrics {
  private readonly requests: Counter;
  private readonly streams: Gauge;

  constructor(registry: AnyRegistry) {
    const { requests, openStreams } = SCALER_METRICS;
    const registers = [registry];
    this.requests = new Counter({ name: requests.name, help: requests.help, labelNames: requests.labels, registers });
    this.streams = new Gauge({ name: openStreams.name, help: openStreams.help, registers });
  }

  /** `code` is the gRPC status name (OK, NOT_FOUND, …), as gRPC's own metrics label it. */
  request(method: string, code: string): void {
    this.requests.inc({ method, code });
  }

  streamOpened(): void {
    this.streams.inc();
  }

  streamClosed(): void {
    this.streams.dec();
  }
}
