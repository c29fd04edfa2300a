import { createServer, type Server } from "node:http";

/**
 * Stand-ins for targets the exporter does not replace: a worker pod (its queuescale_worker_*
 * families with its queue's identity labels, which move on every scrape, and the depth it reports
 * for its own queue), a worker that went idle (/idle-worker) and kube-state-metrics (an HPA at its
 * maximum). They serve the text format on /worker, /idle-worker and /ksm.
 */
export class StandInTargets {
  private scrapes = 0;
  private idleScrapes = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly options: StandInOptions,
  ) {}

  static async start(options: StandInOptions): Promise<StandInTargets> {
    const server = createServer((request, response) => {
      const body =
        request.url === "/worker"
          ? targets.worker()
          : request.url === "/idle-worker"
            ? targets.idleWorker()
            : request.url === "/ksm"
              ? targets.ksm()
              : undefined;
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
    const queue = labelText(this.options.workerQueue);
    return [
      "# TYPE queuescale_worker_messages_total counter",
      `queuescale_worker_messages_total{${queue},outcome="ack"} ${10 * n}`,
      `queuescale_worker_messages_total{${queue},outcome="retry"} ${2 * n}`,
      `queuescale_worker_messages_total{${queue},outcome="dead_letter"} ${n}`,
      "# TYPE queuescale_worker_processing_seconds histogram",
      `queuescale_worker_processing_seconds_bucket{${queue},le="0.1"} ${5 * n}`,
      `queuescale_worker_processing_seconds_bucket{${queue},le="1"} ${12 * n}`,
      `queuescale_worker_processing_seconds_bucket{${queue},le="+Inf"} ${13 * n}`,
      `queuescale_worker_processing_seconds_sum{${queue}} ${4 * n}`,
      `queuescale_worker_processing_seconds_count{${queue}} ${13 * n}`,
      "# TYPE queuescale_worker_message_wait_seconds histogram",
      `queuescale_worker_message_wait_seconds_bucket{${queue},le="1"} ${6 * n}`,
      `queuescale_worker_message_wait_seconds_bucket{${queue},le="10"} ${11 * n}`,
      `queuescale_worker_message_wait_seconds_bucket{${queue},le="+Inf"} ${12 * n}`,
      `queuescale_worker_message_wait_seconds_sum{${queue}} ${30 * n}`,
      `queuescale_worker_message_wait_seconds_count{${queue}} ${12 * n}`,
      "# TYPE queuescale_worker_in_flight gauge",
      `queuescale_worker_in_flight{${queue}} 2`,
      "# TYPE queuescale_worker_oldest_in_flight_seconds gauge",
      `queuescale_worker_oldest_in_flight_seconds{${queue}} 1.5`,
      "# TYPE queuescale_worker_connected gauge",
      `queuescale_worker_connected{${queue}} 1`,
      "# TYPE queuescale_worker_concurrency gauge",
      `queuescale_worker_concurrency{${queue}} 4`,
      "# TYPE queuescale_worker_drain_target_seconds gauge",
      `queuescale_worker_drain_target_seconds{${queue}} 30`,
      "# TYPE queuescale_queue_depth gauge",
      `queuescale_queue_depth{${queue}} ${this.options.workerQueueDepth()}`,
      "",
    ].join("\n");
  }

  /**
   * A worker that handled messages for its first scrapes and then stopped finishing any (a stuck
   * downstream) while its backlog stays: handler time, concurrency, target and depth are exact, so
   * the drain-time figure is known to the last digit once the 1-minute windows hold only the idle part.
   */
  private idleWorker(): string {
    const idle = this.options.idleWorker;
    if (!idle) return "";
    const n = Math.min(++this.idleScrapes, idle.busyScrapes);
    const queue = labelText(idle.queue);
    return [
      "# TYPE queuescale_worker_messages_total counter",
      `queuescale_worker_messages_total{${queue},outcome="ack"} ${idle.perScrape.messages * n}`,
      "# TYPE queuescale_worker_processing_seconds histogram",
      `queuescale_worker_processing_seconds_bucket{${queue},le="+Inf"} ${idle.perScrape.messages * n}`,
      `queuescale_worker_processing_seconds_sum{${queue}} ${idle.perScrape.handlerSeconds * n}`,
      `queuescale_worker_processing_seconds_count{${queue}} ${idle.perScrape.messages * n}`,
      "# TYPE queuescale_worker_connected gauge",
      `queuescale_worker_connected{${queue}} 1`,
      "# TYPE queuescale_worker_concurrency gauge",
      `queuescale_worker_concurrency{${queue}} ${idle.concurrency}`,
      "# TYPE queuescale_worker_drain_target_seconds gauge",
      `queuescale_worker_drain_target_seconds{${queue}} ${idle.drainTargetSeconds}`,
      "# TYPE queuescale_queue_depth gauge",
      `queuescale_queue_depth{${queue}} ${idle.depth}`,
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

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([label, value]) => `${label}="${value}"`)
    .join(",");
}

export interface IdleWorkerOptions {
  /** Identity labels (with broker) of its queue. */
  queue: Record<string, string>;
  /** Scrapes during which it finishes messages; after them its counters stay. */
  busyScrapes: number;
  /** Messages finished and handler seconds used per busy scrape. */
  perScrape: { messages: number; handlerSeconds: number };
  concurrency: number;
  drainTargetSeconds: number;
  /** The backlog it reports, the same at every scrape. */
  depth: number;
}

export interface StandInOptions {
  namespace: string;
  /** Identity labels (with broker) of the queue the stand-in worker consumes. */
  workerQueue: Record<string, string>;
  /** The depth of that queue as the test set it up. */
  workerQueueDepth: () => number;
  /** Served on /idle-worker when set. */
  idleWorker?: IdleWorkerOptions;
}
