import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { Delivery } from "@queuescale/core";
import { DecodeError, decodeJson, type Handler, type WorkerMessage } from "../src/message.js";
import { WorkerMetrics } from "../src/metrics.js";
import { MessageProcessor } from "../src/processor.js";

/** A delivery that records how it was settled. */
class RecordingDelivery implements Delivery {
  readonly settled: string[] = [];
  readonly message: WorkerMessage;

  constructor(
    attempt: number,
    body = "{}",
    private readonly answer: () => Promise<boolean> = async () => true,
    publishedAtMs?: number,
  ) {
    const buffer = Buffer.from(body);
    this.message = {
      body: buffer,
      headers: {},
      id: "m-1",
      attempt,
      publishedAtMs,
      json: <T>() => decodeJson<T>(buffer),
    };
  }

  ack() {
    this.settled.push("ack");
    return this.answer();
  }
  retry(delayMs: number, reason: string) {
    this.settled.push(`retry ${delayMs} ${reason}`);
    return this.answer();
  }
  deadLetter(reason: string) {
    this.settled.push(`dead ${reason}`);
    return this.answer();
  }
  release() {
    this.settled.push("release");
  }
}

const QUEUE = { broker: "rabbitmq", vhost: "orders", queue: "jobs" };

function processorFor(handler: Handler, maxAttempts = 3) {
  const metrics = new WorkerMetrics({ queue: QUEUE, concurrency: 4 });
  const registry = metrics.registry;
  const processor = new MessageProcessor(
    handler,
    { maxAttempts, firstDelayMs: 100, maxDelayMs: 250 },
    metrics,
    pino({ level: "silent" }),
  );
  const outcomes = async () => {
    const counter = (await registry.getMetricsAsJSON()).find((m) => m.name === "queuescale_worker_messages_total")!;
    return Object.fromEntries(counter.values.map((v) => [v.labels.outcome, v.value]));
  };
  /** Every sample of a family, with its labels. */
  const samples = async (name: string) =>
    (await registry.getMetricsAsJSON())
      .find((m) => m.name === name)!
      .values.map((value) => ({
        name: (value as { metricName?: string }).metricName ?? name,
        labels: value.labels,
        value: value.value,
      }));
  return { processor, outcomes, samples };
}

async function run(processor: MessageProcessor, delivery: RecordingDelivery) {
  processor.accept(delivery);
  expect(await processor.drain(5_000)).toBe(true);
}

describe("MessageProcessor", () => {
  it("times the handler and the wait since publish, in families labelled with the worker's queue", async () => {
    const { processor, samples } = processorFor(() => new Promise((resolve) => setTimeout(resolve, 50)));
    // Published 2 s ago: waited about 2 s. A retry (attempt 2) waited on purpose and is not counted.
    await run(processor, new RecordingDelivery(1, "{}", undefined, Date.now() - 2_000));
    await run(processor, new RecordingDelivery(2, "{}", undefined, Date.now() - 60_000));
    // Without a publish time nothing is known of its wait.
    await run(processor, new RecordingDelivery(1));
    const wait = await samples("queuescale_worker_message_wait_seconds");
    const waitCount = wait.find((sample) => sample.name.endsWith("_count"))!;
    const waitSum = wait.find((sample) => sample.name.endsWith("_sum"))!;
    expect(waitCount).toMatchObject({ labels: QUEUE, value: 1 });
    expect(waitSum.value).toBeGreaterThanOrEqual(2);
    expect(waitSum.value).toBeLessThan(3);
    expect(wait.find((sample) => sample.labels.le === 2.5)!.value).toBe(1);
    expect(wait.find((sample) => sample.labels.le === 1)!.value).toBe(0);

    const processing = await samples("queuescale_worker_processing_seconds");
    const handled = processing.find((sample) => sample.name.endsWith("_count"))!;
    expect(handled).toMatchObject({ labels: QUEUE, value: 3 });
    const handlerSeconds = processing.find((sample) => sample.name.endsWith("_sum"))!.value;
    expect(handlerSeconds).toBeGreaterThanOrEqual(0.14);
    expect(handlerSeconds).toBeLessThan(1);

    for (const name of [
      "queuescale_worker_in_flight",
      "queuescale_worker_connected",
      "queuescale_worker_concurrency",
    ]) {
      const [sample, ...rest] = await samples(name);
      expect(rest, name).toEqual([]);
      expect(sample!.labels, name).toEqual(QUEUE);
    }
    expect((await samples("queuescale_worker_concurrency"))[0]!.value).toBe(4);
    const acks = (await samples("queuescale_worker_messages_total")).find((sample) => sample.labels.outcome === "ack");
    expect(acks!.labels).toEqual({ ...QUEUE, outcome: "ack" });
  });

  it("publishes the drain target only when one is set", async () => {
    const unset = new WorkerMetrics({ queue: QUEUE, concurrency: 1 }).registry;
    expect(await unset.metrics()).not.toMatch(/^queuescale_worker_drain_target_seconds/m);
    const set = new WorkerMetrics({ queue: QUEUE, concurrency: 1, drainTargetSeconds: 90 }).registry;
    expect(await set.metrics()).toMatch(
      /^queuescale_worker_drain_target_seconds\{broker="rabbitmq",vhost="orders",queue="jobs"\} 90$/m,
    );
  });

  it("acks after the handler resolves", async () => {
    const { processor, outcomes } = processorFor(async () => undefined);
    const delivery = new RecordingDelivery(1);
    await run(processor, delivery);
    expect(delivery.settled).toEqual(["ack"]);
    expect(await outcomes()).toEqual({ ack: 1, retry: 0, dead_letter: 0 });
  });

  it("takes a synchronous handler's return as success and its throw as a failed attempt", async () => {
    const returning = processorFor(() => "done");
    const acked = new RecordingDelivery(1);
    await run(returning.processor, acked);
    expect(acked.settled).toEqual(["ack"]);
    const throwing = processorFor(() => {
      throw new Error("sync failure");
    });
    const retried = new RecordingDelivery(1);
    await run(throwing.processor, retried);
    expect(retried.settled).toEqual(["retry 100 sync failure"]);
    // A thenable that is not a Promise is waited for like one.
    let settleThenable: () => void = () => undefined;
    const thenable = processorFor(() => ({ then: (resolve: () => void) => (settleThenable = resolve) }));
    const waiting = new RecordingDelivery(1);
    thenable.processor.accept(waiting);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(waiting.settled).toEqual([]);
    settleThenable();
    expect(await thenable.processor.drain(1000)).toBe(true);
    expect(waiting.settled).toEqual(["ack"]);
  });

  it("retries a failure with doubling, capped delays, then dead-letters at MAX_ATTEMPTS", async () => {
    const { processor, outcomes } = processorFor(async () => {
      throw new Error("boom");
    });
    const settled = [];
    for (const attempt of [1, 2, 3]) {
      const delivery = new RecordingDelivery(attempt);
      await run(processor, delivery);
      settled.push(...delivery.settled);
    }
    expect(settled).toEqual(["retry 100 boom", "retry 200 boom", "dead failed 3 of 3 attempts: boom"]);
    expect(await outcomes()).toEqual({ ack: 0, retry: 2, dead_letter: 1 });
  });

  it("dead-letters an undecodable body at once, without retries", async () => {
    const { processor } = processorFor(async (message) => message.json());
    const delivery = new RecordingDelivery(1, "{not json");
    await run(processor, delivery);
    expect(delivery.settled).toHaveLength(1);
    expect(delivery.settled[0]).toMatch(/^dead body is not JSON/);
  });

  it("treats errors flagged permanent as permanent, whoever made them", async () => {
    const { processor } = processorFor(async () => {
      throw Object.assign(new Error("never valid"), { permanent: true });
    });
    const delivery = new RecordingDelivery(1);
    await run(processor, delivery);
    expect(delivery.settled).toEqual(["dead never valid"]);
    expect(new DecodeError("x").name).toBe("DecodeError");
  });

  it("dead-letters without running the handler a message delivered past MAX_ATTEMPTS", async () => {
    let calls = 0;
    const { processor } = processorFor(async () => {
      calls++;
    });
    const delivery = new RecordingDelivery(4);
    await run(processor, delivery);
    expect(calls).toBe(0);
    expect(delivery.settled).toEqual(["dead delivered 4 times without finishing (max 3 attempts)"]);
  });

  it("does not count a settle the connection no longer takes", async () => {
    const { processor, outcomes } = processorFor(async () => undefined);
    const delivery = new RecordingDelivery(1, "{}", async () => false);
    await run(processor, delivery);
    expect(delivery.settled).toEqual(["ack"]);
    expect(await outcomes()).toEqual({ ack: 0, retry: 0, dead_letter: 0 });
  });

  it("hands a message back when the broker refuses its dead-letter copy", async () => {
    const { processor } = processorFor(async () => {
      throw Object.assign(new Error("bad"), { permanent: true });
    });
    const delivery = new RecordingDelivery(1, "{}", async () => {
      throw new Error("nacked by broker");
    });
    await run(processor, delivery);
    expect(delivery.settled).toEqual(["dead bad", "release"]);
  });

  it("hands a message back when its settle rejects with a value String() cannot convert", async () => {
    const { processor } = processorFor(async () => undefined);
    const delivery = new RecordingDelivery(1, "{}", () => Promise.reject(Object.create(null) as Error));
    await run(processor, delivery);
    expect(delivery.settled).toEqual(["ack", "release"]);
  });

  it("describes whatever a handler throws, and retries it", async () => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const values: [unknown, RegExp][] = [
      [Object.create(null), /^\[object Object\]$/],
      [Symbol("odd"), /^Symbol\(odd\)$/],
      [undefined, /^undefined$/],
      [revoked.proxy, /cannot be described/],
    ];
    for (const [value, reason] of values) {
      const { processor } = processorFor(() => Promise.reject(value as Error));
      const delivery = new RecordingDelivery(1);
      await run(processor, delivery);
      expect(delivery.settled).toHaveLength(1);
      expect(delivery.settled[0]!.replace(/^retry 100 /, "")).toMatch(reason);
    }
  });

  it("on abandon, aborts handlers, hands messages back and never settles them", async () => {
    let seenSignal: AbortSignal | undefined;
    const { processor } = processorFor(
      (_message, context) =>
        new Promise((resolve) => {
          seenSignal = context.signal;
          context.signal.addEventListener("abort", () => resolve(undefined));
        }),
    );
    const delivery = new RecordingDelivery(1);
    processor.accept(delivery);
    expect(await processor.drain(50)).toBe(false);
    expect(processor.abandon()).toBe(1);
    expect(await processor.drain(1_000)).toBe(true);
    expect(seenSignal?.aborted).toBe(true);
    expect(delivery.settled).toEqual(["release"]);
  });
});
