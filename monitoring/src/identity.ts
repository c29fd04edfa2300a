/**
 * The label lists every query of a queue's figures repeats, derived from core's adapter list, so
 * that a broker added there reaches the rules, the adapter values and the dashboard by
 * regeneration alone.
 */
import { BROKER_ADAPTERS, depthLabels, type BrokerAdapter } from "@queuescale/core";

/** `namespace, broker, …every identity label`: what identifies one queue in a `by` clause. */
export function queueIdentity(adapters: readonly BrokerAdapter[] = BROKER_ADAPTERS): string {
  return ["namespace", ...depthLabels(adapters)].join(", ");
}

/**
 * A queue's name for humans, from label references (`{{ $labels.X }}` in alerts, `{{X}}` in
 * Grafana legends): the identity labels at the same position are written side by side, since a
 * series carries only its own broker's labels (`{{vhost}}{{stream}}/{{queue}}{{consumer}}`).
 */
export function queueName(reference: (label: string) => string, adapters: readonly BrokerAdapter[] = BROKER_ADAPTERS) {
  const positions = Math.max(...adapters.map((adapter) => adapter.identityLabels.length));
  const parts: string[] = [];
  for (let index = 0; index < positions; index++) {
    const labels = new Set(adapters.flatMap((adapter) => adapter.identityLabels[index] ?? []));
    parts.push([...labels].map(reference).join(""));
  }
  return parts.join("/");
}

/** Placeholders of the templates under monitoring/src/templates, filled in by the generator. */
export function fillTemplate(text: string, adapters: readonly BrokerAdapter[] = BROKER_ADAPTERS): string {
  return text
    .replaceAll("__QUEUE_IDENTITY__", queueIdentity(adapters))
    .replaceAll("__DEPTH_LABELS__", depthLabels(adapters).join(", "))
    .replaceAll(
      "__QUEUE_NAME__",
      queueName((label) => `{{ $labels.${label} }}`, adapters),
    );
}
