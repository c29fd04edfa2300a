import { createServer, type Server } from "node:http";

/**
 * Stand-ins for targets the exporter does not replace: a worker pod (its queuescale_worker_*
 * families, which move on every scrape, and the depth it reports for its own queue) and
 * kube-state-metrics (an HPA at its maximum). They serve the text format on /worker and /ksm.
 */
export class StandInTargets {
  private scrapes = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly options: StandInOptions,
  ) {}

  static async start(options: StandInOptions): Promise<StandInTargets> {
    const server = createServer((request, response) => {
      const body = request.url === "/worker" ? targets.worker() : request.url === "/ksm" ? targets.ksm() : undefined;
      if (body === undefined) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    // Requests arrive only after listen(), when `targets` exists.
    const targets = new StandInTargets(server, (server.address() as { port: number }).port, options);
    return targets;
  }

  private worker(): string {
    const n = ++this.scrapes;
    const queue = Object.entries(this.options.workerQueue)
      .map(([label, value]) => `${label}="${value}"`)
      .join(",");
    return [
      "# TYPE queuescale_worker_messages_total counter",
      `queuescale_worker_messages_total{outcome="ack"} ${10 * n}`,
      `queuescale_worker_messages_total{outcome="retry"} ${2 * n}`,
      `queuescale_worker_messages_total{outcome="dead_letter"} ${n}`,
      "# TYPE queuescale_worker_processing_seconds histogram",
      `queuescale_worker_processing_seconds_bucket{le="0.1"} ${5 * n}`,
      `queuescale_worker_processing_seconds_bucket{le="1"} ${12 * n}`,
      `queuescale_worker_processing_seconds_bucket{le="+Inf"} ${13 * n}`,
      `queuescale_worker_processing_seconds_sum ${4 * n}`,
      `queuescale_worker_processing_seconds_count ${13 * n}`,
      "# TYPE queuescale_worker_in_flight gauge",
      "queuescale_worker_in_flight 2",
      "# TYPE queuescale_worker_oldest_in_flight_seconds gauge",
      "queuescale_worker_oldest_in_flight_seconds 1.5",
      "# TYPE queuescale_worker_connected gauge",
      "queuescale_worker_connected 1",
      "# TYPE queuescale_queue_depth gauge",
      `queuescale_queue_depth{${queue}} ${this.options.workerQueueDepth()}`,
      "",
    ].join("\n");
  }

  private ksm(): string {
    const hpa = `namespace="${this.options.namespace}",horizontalpodautoscaler="queuescale-worker"`;
    return [
      "# TYPE kube_horizontalpodautoscaler_status_current_replicas gauge",
      `kube_horizontalpodautoscaler_status_current_replicas{${hpa}} 50`,
      "# TYPE kube_horizontalpodautoscaler_status_desired_replicas gauge",
      `kube_horizontalpodautoscaler_status_desired_replicas{${hpa}} 50`,
      "# TYPE kube_horizontalpodautoscaler_spec_max_replicas gauge",
      `kube_horizontalpodautoscaler_spec_max_replicas{${hpa}} 50`,
      "# TYPE kube_horizontalpodautoscaler_spec_target_metric gauge",
      `kube_horizontalpodautoscaler_spec_target_metric{${hpa},metric_name="queuescale_queue_depth",metric_target_type="average"} 100`,
      "",
    ].join("\n");
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface StandInOptions {
  namespace: string;
  /** Identity labels (with broker) of the queue the stand-in worker consumes. */
  workerQueue: Record<string, string>;
  /** The depth of that queue as the test set it up. */
  workerQueueDepth: () => number;
}
