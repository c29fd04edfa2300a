import { describe, expect, it } from "vitest";
import { BROKER_ADAPTERS } from "@queuescale/core";
import { MetadataError, metricNameOf, parseScalerMetadata } from "../src/scaler/metadata.js";

function keyOf(metadata: Record<string, string>): string | undefined {
  try {
    parseScalerMetadata(metadata, BROKER_ADAPTERS);
  } catch (error) {
    if (error instanceof MetadataError) return error.key;
    throw error;
  }
  return undefined;
}

describe("scalerMetadata", () => {
  it("takes names as they are, ignores KEDA's own keys, defaults activationValue to 0", () => {
    const metadata = { scalerAddress: "x:9424", broker: "rabbitmq", vhost: "/", queue: "orders v2 ", value: "1e2" };
    expect(parseScalerMetadata(metadata, BROKER_ADAPTERS)).toEqual({
      broker: "rabbitmq",
      labels: { vhost: "/", queue: "orders v2 " },
      value: 100,
      activationValue: 0,
    });
  });

  it("names the key of every bad value", () => {
    const base = { broker: "nats", stream: "JOBS", consumer: "workers", value: "10" };
    expect(keyOf(base)).toBeUndefined();
    expect(keyOf({ ...base, broker: "" })).toBe("broker");
    expect(keyOf({ ...base, stream: "" })).toBe("stream");
    expect(keyOf({ ...base, value: "0x10" })).toBe("value");
    expect(keyOf({ ...base, value: "-3" })).toBe("value");
    expect(keyOf({ ...base, value: "Infinity" })).toBe("value");
    expect(keyOf({ ...base, activationValue: " " })).toBeUndefined();
    expect(keyOf({ ...base, activationValue: "1,5" })).toBe("activationValue");
  });

  it("derives a lower-case metric name from the queue identity, the default vhost left out", () => {
    expect(metricNameOf({ broker: "rabbitmq", labels: { vhost: "/", queue: "jobs" } })).toBe(
      "queuescale-rabbitmq-jobs",
    );
    expect(metricNameOf({ broker: "nats", labels: { stream: "JOBS", consumer: "retry-ü.v2" } })).toBe(
      "queuescale-nats-jobs-retry-v2",
    );
  });
});
