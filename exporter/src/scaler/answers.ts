import { status } from "@grpc/grpc-js";
import type { DepthCollector } from "@queuescale/core";
import type { ScaledQueue } from "./metadata.js";

/** An answer the scaler cannot give: the RPC fails with this gRPC status. */
export class ScalerStatusError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = "ScalerStatusError";
  }
}

function describeQueue(queue: Pick<ScaledQueue, "broker" | "labels">): string {
  const labels = Object.entries(queue.labels).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  return `${queue.broker} ${labels.join(" ")}`;
}

/**
 * The queue's depth (ready + unacked) from the collector's last snapshots: no broker call, so a
 * thousand ScaledObjects cost what one poll costs. Never 0 for "unknown": a queue that no source
 * reports while one of its broker's sources is down is UNAVAILABLE (KEDA then holds the replicas),
 * and one that is missing while every source answered is NOT_FOUND.
 */
export function depthOf(collector: DepthCollector, queue: Pick<ScaledQueue, "broker" | "labels">): number {
  const reading = collector.find(queue.broker, queue.labels);
  if (reading) return reading.depth;
  const sources = collector.sourceStates().filter((source) => source.broker === queue.broker);
  if (sources.length === 0) {
    throw new ScalerStatusError(status.NOT_FOUND, `this exporter reads no ${queue.broker} broker`);
  }
  const down = sources.filter((source) => !source.up).map((source) => source.source);
  if (down.length > 0) {
    throw new ScalerStatusError(
      status.UNAVAILABLE,
      `${describeQueue(queue)}: the depth is unknown, ${queue.broker} source ${down.join(", ")} cannot be read`,
    );
  }
  throw new ScalerStatusError(
    status.NOT_FOUND,
    `${describeQueue(queue)} is not read by this exporter (no such queue, or left out by its vhost or name filters)`,
  );
}
