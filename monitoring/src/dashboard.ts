/**
 * The Grafana dashboard, built with the Grafana Foundation SDK. `npx tsx monitoring/src/generate.ts`
 * writes it to monitoring/grafana/queuescale.json and into the ConfigMap the Grafana sidecar loads.
 */
import type { DataSourceRef } from "@grafana/grafana-foundation-sdk/common";
import {
  DashboardBuilder,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
  type Dashboard,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";
import { BROKER_ADAPTERS, type BrokerAdapter } from "@queuescale/core";
import { queueIdentity, queueName } from "./identity.js";

export const DASHBOARD_UID = "queuescale";

const datasource: DataSourceRef = { type: "prometheus", uid: "${datasource}" };

/**
 * Series selector of the depth families for the chosen namespace, broker, queue (RabbitMQ) and
 * consumer (JetStream). "All" is `.*`, which also matches the other broker's absent label.
 */
const queueFilter = 'namespace=~"$namespace", broker=~"$broker", queue=~"$queue", consumer=~"$consumer"';

interface Target {
  expr: string;
  legend: string;
}

function panel(title: string, description: string, unit: string, targets: Target[]) {
  const builder = new TimeseriesPanel()
    .title(title)
    .description(description)
    .datasource(datasource)
    .unit(unit)
    .min(0)
    .height(8)
    .span(12)
    .fillOpacity(10);
  targets.forEach((target, index) => {
    builder.withTarget(
      new DataqueryBuilder()
        .expr(target.expr)
        .legendFormat(target.legend)
        .refId(String.fromCharCode(65 + index)),
    );
  });
  return builder;
}

function queryVariable(name: string, label: string, query: string) {
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(datasource)
    .query({ query, refId: `${name}-values` })
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue(".*");
}

export function buildDashboard(adapters: readonly BrokerAdapter[] = BROKER_ADAPTERS): Dashboard {
  const queueLegend = `{{broker}} {{namespace}} ${queueName((label) => `{{${label}}}`, adapters)}`;
  /** Workers and the exporter publish the same depth series: one line per queue is their max. */
  const perQueue = (metric: string) => `max by (${queueIdentity(adapters)}) (${metric}{${queueFilter}})`;
  const dashboard = new DashboardBuilder("queuescale")
    .uid(DASHBOARD_UID)
    .description("Queue backlog, workers and autoscaling of queuescale (RabbitMQ queues and NATS JetStream consumers).")
    .tags(["queuescale", ...adapters.map((adapter) => adapter.name), "autoscaling"])
    .refresh("30s")
    .time({ from: "now-3h", to: "now" })
    .timezone("browser")
    .withVariable(new DatasourceVariableBuilder("datasource").label("Data source").type("prometheus"))
    .withVariable(queryVariable("namespace", "Namespace", "label_values(queuescale_queue_depth, namespace)"))
    .withVariable(
      queryVariable("broker", "Broker", 'label_values(queuescale_queue_depth{namespace=~"$namespace"}, broker)'),
    )
    .withVariable(
      queryVariable(
        "queue",
        "Queue (RabbitMQ)",
        'label_values(queuescale_queue_depth{namespace=~"$namespace", broker=~"$broker"}, queue)',
      ),
    )
    .withVariable(
      queryVariable(
        "consumer",
        "Consumer (JetStream)",
        'label_values(queuescale_queue_depth{namespace=~"$namespace", broker=~"$broker"}, consumer)',
      ),
    )

    .withRow(new RowBuilder("Backlog"))
    .withPanel(
      panel("Depth", "Ready + unacknowledged: the number the HPA divides by its AverageValue target.", "short", [
        { expr: perQueue("queuescale_queue_depth"), legend: queueLegend },
      ]),
    )
    .withPanel(
      panel(
        "Ready vs unacknowledged",
        "Waiting for a consumer; delivered but not yet acknowledged; of those, redelivered.",
        "short",
        [
          { expr: perQueue("queuescale_queue_ready_messages"), legend: `ready ${queueLegend}` },
          { expr: perQueue("queuescale_queue_unacked_messages"), legend: `unacked ${queueLegend}` },
          { expr: perQueue("queuescale_queue_redelivered_messages"), legend: `redelivered ${queueLegend}` },
        ],
      ),
    )
    .withPanel(
      panel(
        "Consumers",
        "Consumers attached to the queue, or pull requests waiting on the JetStream consumer.",
        "short",
        [{ expr: perQueue("queuescale_queue_consumers"), legend: queueLegend }],
      ),
    )
    .withPanel(
      panel("Oldest message age", "Age of the oldest unfinished message, where the broker tells it.", "s", [
        { expr: perQueue("queuescale_queue_oldest_message_age_seconds"), legend: queueLegend },
      ]),
    )
    .withPanel(
      panel("Estimated time to drain", "Depth divided by the workers' ack rate over 2 minutes (recording rule).", "s", [
        { expr: `queuescale:queue_drain_seconds:estimate{${queueFilter}}`, legend: queueLegend },
      ]),
    )
    .withPanel(
      panel(
        "Backlog per worker",
        "Depth divided by the workers consuming the queue; the HPA aims at its target.",
        "short",
        [{ expr: `queuescale:queue_backlog_per_replica:ratio{${queueFilter}}`, legend: queueLegend }],
      ),
    )

    .withRow(new RowBuilder("Drain time"))
    .withPanel(
      panel(
        "Required replicas",
        "(backlog / T + arrivals) × mean handler time / concurrency (recording rule): what an HPA on queuescale_queue_required_replicas runs, rounded up. Absent without a drain target or a known handler time.",
        "short",
        [{ expr: `queuescale:queue_required_replicas{${queueFilter}}`, legend: queueLegend }],
      ),
    )
    .withPanel(
      panel(
        "Message wait p95 and target",
        "95th percentile of the time from publish to the handler's start, next to the workers' drain-time target T.",
        "s",
        [
          {
            expr: `histogram_quantile(0.95, sum by (${queueIdentity(adapters)}, le) (rate(queuescale_worker_message_wait_seconds_bucket{${queueFilter}}[$__rate_interval])))`,
            legend: `p95 ${queueLegend}`,
          },
          { expr: `queuescale:queue_drain_target_seconds:min{${queueFilter}}`, legend: `T ${queueLegend}` },
        ],
      ),
    )
    .withPanel(
      panel(
        "Mean handler time and workers",
        "Mean handler seconds per message (last known, for up to an hour) and the workers consuming the queue. A handler time that rises with the workers points at a shared downstream that more replicas do not speed up.",
        "s",
        [
          { expr: `queuescale:queue_handler_seconds:last1h{${queueFilter}}`, legend: `s ${queueLegend}` },
          { expr: `queuescale:queue_workers:count{${queueFilter}}`, legend: `workers ${queueLegend}` },
        ],
      ),
    )
    .withPanel(
      panel(
        "Arrivals and concurrency",
        "Estimated arrivals per second over the last minute (completions plus the backlog's change, at least 0) and the workers' mean concurrency.",
        "short",
        [
          { expr: `queuescale:queue_arrivals:rate1m{${queueFilter}}`, legend: `arrivals/s ${queueLegend}` },
          {
            expr: `max by (${queueIdentity(adapters)}) (queuescale_worker_concurrency{${queueFilter}})`,
            legend: `concurrency ${queueLegend}`,
          },
          {
            expr: `min by (${queueIdentity(adapters)}) (queuescale_worker_drain_target_seconds{${queueFilter}})`,
            legend: `T ${queueLegend}`,
          },
        ],
      ),
    )

    .withRow(new RowBuilder("Workers"))
    .withPanel(
      panel("Messages processed", "Settled messages per second by outcome.", "ops", [
        {
          expr: 'sum by (namespace, job, outcome) (rate(queuescale_worker_messages_total{namespace=~"$namespace"}[$__rate_interval]))',
          legend: "{{outcome}} {{namespace}}/{{job}}",
        },
      ]),
    )
    .withPanel(
      panel("Processing time p95", "95th percentile of the handler's time per message.", "s", [
        {
          expr: 'histogram_quantile(0.95, sum by (namespace, job, le) (rate(queuescale_worker_processing_seconds_bucket{namespace=~"$namespace"}[$__rate_interval])))',
          legend: "p95 {{namespace}}/{{job}}",
        },
      ]),
    )
    .withPanel(
      panel("Dead letters", "Messages moved to the dead-letter queue or stream after MAX_ATTEMPTS.", "short", [
        {
          expr: 'sum by (namespace, job) (increase(queuescale_worker_messages_total{namespace=~"$namespace", outcome="dead_letter"}[$__rate_interval]))',
          legend: "{{namespace}}/{{job}}",
        },
      ]),
    )
    .withPanel(
      panel("In flight and connected", "Messages in the handlers, and workers holding a broker connection.", "short", [
        {
          expr: 'sum by (namespace, job) (queuescale_worker_in_flight{namespace=~"$namespace"})',
          legend: "in flight {{namespace}}/{{job}}",
        },
        {
          expr: 'sum by (namespace, job) (queuescale_worker_connected{namespace=~"$namespace"})',
          legend: "connected {{namespace}}/{{job}}",
        },
      ]),
    )
    .withPanel(
      panel(
        "Oldest message in a handler",
        "How long the message longest in a handler has been there, per worker group; one that keeps growing is a stalled handler (see HANDLER_TIMEOUT_SECONDS).",
        "s",
        [
          {
            expr: 'max by (namespace, job) (queuescale_worker_oldest_in_flight_seconds{namespace=~"$namespace"})',
            legend: "{{namespace}}/{{job}}",
          },
        ],
      ),
    )

    .withRow(new RowBuilder("Autoscaling"))
    .withPanel(
      panel(
        "HPA replicas",
        "Current and desired replicas of each HPA (kube-state-metrics), and its maximum.",
        "short",
        [
          {
            expr: 'max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_current_replicas{namespace=~"$namespace"})',
            legend: "current {{namespace}}/{{horizontalpodautoscaler}}",
          },
          {
            expr: 'max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_desired_replicas{namespace=~"$namespace"})',
            legend: "desired {{namespace}}/{{horizontalpodautoscaler}}",
          },
          {
            expr: 'max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas{namespace=~"$namespace"})',
            legend: "max {{namespace}}/{{horizontalpodautoscaler}}",
          },
        ],
      ),
    )
    .withPanel(
      panel("HPA target per replica", "The AverageValue target of the queue-depth metric.", "short", [
        {
          expr: 'max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_target_metric{namespace=~"$namespace", metric_name="queuescale_queue_depth"})',
          legend: "target {{namespace}}/{{horizontalpodautoscaler}}",
        },
      ]),
    )

    .withRow(new RowBuilder("Depth sources"))
    .withPanel(
      panel("Source up", "1 when the last poll of a broker succeeded; at 0 the depth series are absent.", "short", [
        {
          expr: 'min by (namespace, job, broker, source) (queuescale_source_up{namespace=~"$namespace", broker=~"$broker"})',
          legend: "{{job}} {{broker}}/{{source}}",
        },
      ]),
    )
    .withPanel(
      panel("Seconds since last successful poll", "Grows while a broker cannot be read.", "s", [
        {
          expr: 'time() - max by (namespace, job, broker, source) (queuescale_source_last_success_timestamp_seconds{namespace=~"$namespace", broker=~"$broker"})',
          legend: "{{job}} {{broker}}/{{source}}",
        },
      ]),
    )
    .withPanel(
      panel("Poll time p95", "95th percentile of one poll of a depth source.", "s", [
        {
          expr: 'histogram_quantile(0.95, sum by (namespace, job, broker, source, le) (rate(queuescale_source_poll_duration_seconds_bucket{namespace=~"$namespace", broker=~"$broker"}[$__rate_interval])))',
          legend: "{{job}} {{broker}}/{{source}}",
        },
      ]),
    )
    .withPanel(
      panel("Poll errors", "Failed polls per second by reason.", "ops", [
        {
          expr: 'sum by (namespace, job, broker, source, reason) (rate(queuescale_source_poll_errors_total{namespace=~"$namespace", broker=~"$broker"}[$__rate_interval]))',
          legend: "{{reason}} {{job}} {{broker}}/{{source}}",
        },
      ]),
    )
    .withPanel(
      panel(
        "KEDA external scaler",
        "Calls per second to the exporter's external scaler by method and gRPC status (UNAVAILABLE while a broker cannot be read), and open StreamIsActive streams. Empty when SCALER_LISTEN_ADDRESS is unset.",
        "short",
        [
          {
            expr: 'sum by (namespace, job, method, code) (rate(queuescale_scaler_requests_total{namespace=~"$namespace"}[$__rate_interval]))',
            legend: "{{method}} {{code}}",
          },
          {
            expr: 'sum by (namespace, job) (queuescale_scaler_open_streams{namespace=~"$namespace"})',
            legend: "open streams {{job}}",
          },
        ],
      ),
    )
    .build();
  // Stable panel ids keep links and the committed JSON from changing between generations.
  (dashboard.panels ?? []).forEach((panel, index) => {
    panel.id = index + 1;
  });
  return dashboard;
}
