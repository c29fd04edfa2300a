import { fileURLToPath } from "node:url";
import {
  Server,
  ServerCredentials,
  loadPackageDefinition,
  status,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { describeError, type BrokerAdapter, type DepthCollector, type Logger } from "@queuescale/core";
import { ScalerStatusError, depthOf } from "./answers.js";
import { MetadataError, metricNameOf, parseScalerMetadata, type ScaledQueue } from "./metadata.js";
import { ScalerMetrics } from "./metrics.js";
import type { ScalerConfig } from "./settings.js";

/** Our copy of KEDA's service definition, next to the package (the image ships it there too). */
export const PROTO_PATH = fileURLToPath(new URL("../../proto/externalscaler.proto", import.meta.url));

/** The messages of externalscaler.proto, as proto-loader decodes them with keepCase. */
interface ScaledObjectRef {
  name: string;
  namespace: string;
  scalerMetadata: Record<string, string>;
}
interface GetMetricsRequest {
  scaledObjectRef: ScaledObjectRef | null;
  metricName: string;
}
interface IsActiveResponse {
  result: boolean;
}
interface GetMetricSpecResponse {
  metricSpecs: { metricName: string; targetSize: number; targetSizeFloat: number }[];
}
interface GetMetricsResponse {
  metricValues: { metricName: string; metricValue: number; metricValueFloat: number }[];
}

/** The ExternalScaler service definition, loaded once. */
export function externalScalerService(): ServiceDefinition {
  const definition = loadSync(PROTO_PATH, { keepCase: true, longs: Number, defaults: true });
  const loaded = loadPackageDefinition(definition) as unknown as {
    externalscaler: { ExternalScaler: { service: ServiceDefinition } };
  };
  return loaded.externalscaler.ExternalScaler.service;
}

export interface RunningScaler {
  readonly port: number;
  readonly tls: boolean;
  stop(): Promise<void>;
}

/** A failure as a gRPC status: bad metadata INVALID_ARGUMENT, ours as thrown, anything else INTERNAL. */
function statusOf(error: unknown): { code: status; details: string } {
  if (error instanceof MetadataError) return { code: status.INVALID_ARGUMENT, details: error.message };
  if (error instanceof ScalerStatusError) return { code: error.code, details: error.message };
  return { code: status.INTERNAL, details: describeError(error) };
}

/** gRPC's name of a status code (`NOT_FOUND`), the `code` label. */
function codeName(code: status): string {
  return status[code] ?? String(code);
}

/** How long stop() lets calls in flight finish before closing their connections. */
const SHUTDOWN_GRACE_MS = 5_000;

/**
 * Serves KEDA's externalscaler.ExternalScaler from the collector's last snapshots. StreamIsActive
 * streams are re-evaluated after every poll and pushed only on change; StreamMetricSpec is left
 * unimplemented (the target never changes while the ScaledObject does not), which KEDA takes as
 * "ask GetMetricSpec".
 */
export async function startScaler(
  config: ScalerConfig,
  collector: DepthCollector,
  adapters: readonly BrokerAdapter[],
  logger: Logger,
): Promise<RunningScaler> {
  const metrics = new ScalerMetrics(collector.registry);
  const streams = new Set<ServerWritableStream<ScaledObjectRef, IsActiveResponse>>();

  const queueOf = (ref: ScaledObjectRef | null): ScaledQueue =>
    parseScalerMetadata(ref?.scalerMetadata ?? {}, adapters);

  /** A unary handler: `answer` runs synchronously on the snapshot; its error becomes the status. */
  function unary<Request, Response>(method: string, answer: (request: Request) => Response) {
    return (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>) => {
      let response: Response;
      try {
        response = answer(call.request);
      } catch (error) {
        const failure = statusOf(error);
        if (failure.code === status.INTERNAL) logger.error({ method, error: failure.details }, "scaler call failed");
        metrics.request(method, codeName(failure.code));
        callback(failure);
        return;
      }
      metrics.request(method, "OK");
      callback(null, response);
    };
  }

  function streamIsActive(call: ServerWritableStream<ScaledObjectRef, IsActiveResponse>): void {
    const method = "StreamIsActive";
    let queue: ScaledQueue;
    let sent: boolean | undefined;
    try {
      queue = queueOf(call.request);
      sent = depthOf(collector, queue) > queue.activationValue;
    } catch (error) {
      const failure = statusOf(error);
      // Unknown at the start because a source is down: wait for it rather than fail (KEDA would
      // back off for up to a minute before asking again).
      if (failure.code !== status.UNAVAILABLE) {
        metrics.request(method, codeName(failure.code));
        call.emit("error", failure);
        return;
      }
    }
    if (sent !== undefined) call.write({ result: sent });
    streams.add(call);
    metrics.streamOpened();
    const evaluate = () => {
      let active: boolean;
      try {
        active = depthOf(collector, queue) > queue.activationValue;
      } catch {
        // Unknown (source down, queue gone): say nothing, so KEDA keeps what it has.
        return;
      }
      if (active !== sent) {
        sent = active;
        call.write({ result: active });
      }
    };
    const unsubscribe = collector.onPoll(evaluate);
    let closed = false;
    const close = (code: string) => {
      if (closed) return;
      closed = true;
      unsubscribe();
      streams.delete(call);
      metrics.streamClosed();
      metrics.request(method, code);
    };
    call.on("cancelled", () => close("CANCELLED"));
    call.on("finish", () => close("OK"));
    call.on("error", () => close("UNKNOWN"));
  }

  const implementation: UntypedServiceImplementation = {
    IsActive: unary<ScaledObjectRef, IsActiveResponse>("IsActive", (ref) => {
      const queue = queueOf(ref);
      return { result: depthOf(collector, queue) > queue.activationValue };
    }),
    StreamIsActive: streamIsActive,
    GetMetricSpec: unary<ScaledObjectRef, GetMetricSpecResponse>("GetMetricSpec", (ref) => {
      const queue = queueOf(ref);
      // targetSize for KEDA versions before targetSizeFloat; never 0, which KEDA would take as unset.
      const targetSize = Math.max(1, Math.round(queue.value));
      return { metricSpecs: [{ metricName: metricNameOf(queue), targetSize, targetSizeFloat: queue.value }] };
    }),
    GetMetrics: unary<GetMetricsRequest, GetMetricsResponse>("GetMetrics", (request) => {
      const queue = queueOf(request.scaledObjectRef);
      const depth = depthOf(collector, queue);
      // KEDA reads metricValue when metricValueFloat is 0, so both carry the depth.
      return {
        metricValues: [{ metricName: metricNameOf(queue), metricValue: Math.round(depth), metricValueFloat: depth }],
      };
    }),
  };

  const server = new Server();
  server.addService(externalScalerService(), implementation);
  const credentials = config.tls
    ? ServerCredentials.createSsl(
        config.tls.clientCa ?? null,
        [{ cert_chain: config.tls.cert, private_key: config.tls.key }],
        config.tls.clientCa !== undefined,
      )
    : ServerCredentials.createInsecure();
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${config.port}`, credentials, (error, bound) => (error ? reject(error) : resolve(bound)));
  });

  return {
    port,
    tls: config.tls !== undefined,
    async stop() {
      // Open streams end cleanly (KEDA reconnects to another replica at once), then calls in
      // flight get a grace period.
      for (const call of streams) call.end();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, SHUTDOWN_GRACE_MS);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
