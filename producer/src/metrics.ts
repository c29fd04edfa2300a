import { Counter, Gauge, Histogram, collectDefaultMetrics } from "prom-client";
import { createRegistry, renderRegistry, type ExpositionFormat } from "@queuescale/core";
import type { BrokerClient, PublishFailureReason } from "./brokers/types.js";

const FAILURE_REASONS: readonly PublishFailureReason[] = ["nack", "unroutable", "timeout", "connection"];

/** The producer's own series (queuescale_producer_*); it publishes no queue depths. */
export class ProducerMetrics {
  readonly registry = createRegistry();
  private readonly requests: Counter;
  private readonly duration: Histogram;
  private readonly published: Counter;
  private readonly failures: Counter;

  constructor(private readonly client: BrokerClient) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: "queuescale_producer_http_requests_total",
      help: "HTTP requests answered, by route template, method and status code.",
      labelNames: ["route", "method", "status"],
      registers,
    });
    this.duration = new Histogram({
      name: "queuescale_producer_http_request_duration_seconds",
      help: "Time from receiving an HTTP request to finishing the answer (for publishes: until the broker confirmed).",
      labelNames: ["route", "method"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.published = new Counter({
      name: "queuescale_producer_messages_published_total",
      help: "Messages the broker confirmed (RabbitMQ publisher confirm, JetStream publish acknowledgement).",
      labelNames: ["broker"],
      registers,
    });
    this.failures = new Counter({
      name: "queuescale_producer_publish_failures_total",
      help: "Messages the broker did not confirm, by reason (nack, unroutable, timeout, connection).",
      labelNames: ["broker", "reason"],
      registers,
    });
    new Gauge({
      name: "queuescale_producer_broker_connected",
      help: "1 while the producer's broker connection is up, else 0.",
      labelNames: ["broker"],
      registers,
      collect() {
        this.set({ broker: client.broker }, client.isConnected() ? 1 : 0);
      },
    });
    this.published.inc({ broker: client.broker }, 0);
    for (const reason of FAILURE_REASONS) this.failures.inc({ broker: client.broker, reason }, 0);
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.requests.inc({ route, method, status: String(status) });
    this.duration.observe({ route, method }, seconds);
  }

  countPublished(count: number): void {
    if (count > 0) this.published.inc({ broker: this.client.broker }, count);
  }

  countFailure(reason: PublishFailureReason): void {
    this.failures.inc({ broker: this.client.broker, reason });
  }

  render(format: ExpositionFormat): Promise<string> {
    return renderRegistry(this.registry, format);
  }
}
