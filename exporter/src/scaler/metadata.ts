import type { BrokerAdapter } from "@queuescale/core";

/** The queue a ScaledObject's trigger names, with its targets, read from scalerMetadata. */
export interface ScaledQueue {
  /** The adapter's name: the `broker` label. */
  readonly broker: string;
  /** The adapter's identity labels (`vhost`, `queue` / `stream`, `consumer`) and their values. */
  readonly labels: Readonly<Record<string, string>>;
  /** Target messages per replica (`value`), > 0. */
  readonly value: number;
  /** The scale target is active above this depth (`activationValue`, default 0). */
  readonly activationValue: number;
}

/** Metadata that names no queue or a bad target: the RPC fails with INVALID_ARGUMENT saying this. */
export class MetadataError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`scalerMetadata.${key} ${message}`);
    this.name = "MetadataError";
  }
}

function numberOf(metadata: Readonly<Record<string, string>>, key: string, fallback?: number): number {
  const raw = metadata[key]?.trim();
  if (raw === undefined || raw === "") {
    if (fallback !== undefined) return fallback;
    throw new MetadataError(key, "is required");
  }
  // Number("") and Number(" ") are 0, "0x10" is 16: only plain decimals are taken.
  const value = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(value)) throw new MetadataError(key, `must be a number, got ${JSON.stringify(raw)}`);
  return value;
}

/**
 * Reads a trigger's scalerMetadata. The keys are the metric contract's labels: `broker`, then the
 * broker's identity labels, so a ScaledObject names its queue exactly as an HPA selector would.
 * KEDA passes every key of the trigger's metadata (`scalerAddress` among them); keys this does not
 * read are ignored.
 */
export function parseScalerMetadata(
  metadata: Readonly<Record<string, string>>,
  adapters: readonly BrokerAdapter[],
): ScaledQueue {
  const names = adapters.map((adapter) => adapter.name);
  const broker = metadata.broker?.trim();
  if (!broker) throw new MetadataError("broker", `is required: one of ${names.join(", ")}`);
  const adapter = adapters.find((candidate) => candidate.name === broker);
  if (!adapter) {
    throw new MetadataError("broker", `must be one of ${names.join(", ")}, got ${JSON.stringify(broker)}`);
  }
  const labels: Record<string, string> = {};
  for (const label of adapter.identityLabels) {
    // Names are taken as they are: a queue may well end in a space.
    const value = metadata[label];
    if (value === undefined || value === "") {
      throw new MetadataError(label, `is required for broker ${broker} (${adapter.identityLabels.join(", ")})`);
    }
    labels[label] = value;
  }
  const value = numberOf(metadata, "value");
  if (value <= 0) throw new MetadataError("value", `must be greater than 0, got ${value}`);
  const activationValue = numberOf(metadata, "activationValue", 0);
  if (activationValue < 0) throw new MetadataError("activationValue", `must be 0 or more, got ${activationValue}`);
  return { broker, labels, value, activationValue };
}

/**
 * The metric name KEDA gives the HPA (it adds an `sN-` prefix): the queue identity, in the
 * characters Kubernetes resource names use, so it reads well in `kubectl get hpa`.
 */
export function metricNameOf(queue: Pick<ScaledQueue, "broker" | "labels">): string {
  const parts = [queue.broker, ...Object.values(queue.labels)].map((part) =>
    part
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, ""),
  );
  return ["queuescale", ...parts.filter((part) => part.length > 0)].join("-");
}
