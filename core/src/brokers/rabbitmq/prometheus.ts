import type { DepthSource, Snapshot } from "../../sources/types.js";
import { endpointUrl, getText, hostPort, httpEndpoint, type HttpEndpoint } from "../../sources/http-get.js";
import { parsePrometheusQueues } from "./prometheus-parse.js";
import { selectReadings, type QueueSelection } from "./readings.js";

/** The two families that hold ready, unacked and consumers per queue (3 series a queue, not ~18). */
const FAMILIES = ["queue_coarse_metrics", "queue_consumer_count"];

/** The URL one poll fetches: the detailed endpoint narrowed to the needed families and vhosts. */
export function detailedMetricsUrl(endpoint: HttpEndpoint, vhosts: readonly string[] | undefined): URL {
  const query = new URLSearchParams();
  for (const family of FAMILIES) query.append("family", family);
  for (const vhost of vhosts ?? []) query.append("vhost", vhost);
  return endpointUrl(endpoint, "/metrics/detailed", query);
}

/**
 * Reads one node's rabbitmq_prometheus endpoint. A node reports the queues it hosts (a quorum
 * queue only on its leader), so a cluster needs one source per node; the collector merges them,
 * taking the larger figure for a queue seen twice. The coarse families carry no head-message
 * timestamp (only the ~18-series-per-queue queue_metrics family does), so this source leaves the
 * oldest-message age out.
 */
export class PrometheusSource implements DepthSource {
  readonly broker = "rabbitmq" as const;
  private readonly endpoint: HttpEndpoint;
  private readonly url: URL;

  constructor(
    nodeUrl: string,
    private readonly selection: QueueSelection,
    readonly name = `prometheus@${hostPort(nodeUrl)}`,
    maxResponseBytes?: number,
  ) {
    this.endpoint = httpEndpoint(nodeUrl, undefined, maxResponseBytes);
    this.url = detailedMetricsUrl(this.endpoint, selection.vhosts);
  }

  async poll(signal: AbortSignal): Promise<Snapshot> {
    const text = await getText(this.endpoint, this.url, signal);
    const readings = selectReadings(parsePrometheusQueues(text), this.selection);
    return { readings, takenAtMs: Date.now() };
  }

  async close(): Promise<void> {}
}
