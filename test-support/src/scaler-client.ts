import { fileURLToPath } from "node:url";
import {
  credentials as grpcCredentials,
  loadPackageDefinition,
  status,
  type ChannelCredentials,
  type ClientReadableStream,
  type ServiceClientConstructor,
  type ServiceError,
  type Client,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

/** The exporter's copy of KEDA's externalscaler.proto: the client speaks what KEDA speaks. */
export const SCALER_PROTO_PATH = fileURLToPath(new URL("../../exporter/proto/externalscaler.proto", import.meta.url));

export interface MetricSpec {
  metricName: string;
  targetSize: number;
  targetSizeFloat: number;
}

export interface MetricValue {
  metricName: string;
  metricValue: number;
  metricValueFloat: number;
}

type Callback<T> = (error: ServiceError | null, response: T) => void;
interface RawClient extends Client {
  IsActive(ref: unknown, callback: Callback<{ result: boolean }>): void;
  GetMetricSpec(ref: unknown, callback: Callback<{ metricSpecs: MetricSpec[] }>): void;
  GetMetrics(request: unknown, callback: Callback<{ metricValues: MetricValue[] }>): void;
  StreamIsActive(ref: unknown): ClientReadableStream<{ result: boolean }>;
  StreamMetricSpec(ref: unknown): ClientReadableStream<{ metricSpecs: MetricSpec[] }>;
}

/** The gRPC status name of a failed call (`NOT_FOUND`), or undefined for anything else. */
export function grpcStatusOf(error: unknown): string | undefined {
  const code = (error as Partial<ServiceError> | undefined)?.code;
  return code === undefined ? undefined : status[code];
}

/**
 * A client of KEDA's ExternalScaler service, calling it as KEDA does: a ScaledObjectRef whose
 * scalerMetadata is the trigger's metadata.
 */
export class ScalerClient {
  readonly raw: RawClient;

  constructor(
    address: string,
    credentials: ChannelCredentials = grpcCredentials.createInsecure(),
    options: Record<string, string | number> = {},
  ) {
    const definition = loadSync(SCALER_PROTO_PATH, { keepCase: true, longs: Number, defaults: true });
    const loaded = loadPackageDefinition(definition) as unknown as {
      externalscaler: { ExternalScaler: ServiceClientConstructor };
    };
    this.raw = new loaded.externalscaler.ExternalScaler(address, credentials, options) as unknown as RawClient;
  }

  private static ref(scalerMetadata: Record<string, string>) {
    return { name: "queuescale-worker", namespace: "queuescale", scalerMetadata };
  }

  private unary<T>(call: (callback: Callback<T>) => void): Promise<T> {
    return new Promise((resolve, reject) => call((error, response) => (error ? reject(error) : resolve(response))));
  }

  async isActive(scalerMetadata: Record<string, string>): Promise<boolean> {
    const response = await this.unary<{ result: boolean }>((callback) =>
      this.raw.IsActive(ScalerClient.ref(scalerMetadata), callback),
    );
    return response.result;
  }

  async getMetricSpec(scalerMetadata: Record<string, string>): Promise<MetricSpec[]> {
    const response = await this.unary<{ metricSpecs: MetricSpec[] }>((callback) =>
      this.raw.GetMetricSpec(ScalerClient.ref(scalerMetadata), callback),
    );
    return response.metricSpecs;
  }

  async getMetrics(scalerMetadata: Record<string, string>, metricName = ""): Promise<MetricValue[]> {
    const response = await this.unary<{ metricValues: MetricValue[] }>((callback) =>
      this.raw.GetMetrics({ scaledObjectRef: ScalerClient.ref(scalerMetadata), metricName }, callback),
    );
    return response.metricValues;
  }

  /** StreamIsActive; the caller reads `data` events and cancels it when done. */
  streamIsActive(scalerMetadata: Record<string, string>): ClientReadableStream<{ result: boolean }> {
    return this.raw.StreamIsActive(ScalerClient.ref(scalerMetadata));
  }

  close(): void {
    this.raw.close();
  }
}
