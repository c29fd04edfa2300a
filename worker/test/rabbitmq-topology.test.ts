import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, uniqueName } from "@queuescale/test-support/names";
import type { DeadLetter } from "@queuescale/test-support/broker-harness";
import { probeChannel, takeDeadLetters } from "@queuescale/test-support/rabbitmq/harness";
import { HOSTILE_HANDLER, WorkerProcess, buildWorker, readRecords } from "./support/worker-process.js";

const URL = "amqp://guest:guest@127.0.0.1:5672";

/**
 * What DECLARE=true makes of RabbitMQ queues and what the worker makes of existing ones: the crash
 * guard on the quorum queue it creates, existing classic and quorum queues accepted, a retry queue
 * that a message without expiry cannot block, and bookkeeping headers a publisher cannot forge.
 */
describe("queuescale-worker on rabbitmq, topology", () => {
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  let queue: string;
  let dir: string;
  let recordFile: string;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    buildWorker();
    connection = await amqp.connect(URL);
    channel = await connection.createConfirmChannel();
  }, 120_000);

  afterAll(async () => {
    await connection?.close().catch(() => undefined);
  });

  afterEach(async () => {
    for (const worker of workers.splice(0)) {
      worker.kill("SIGKILL");
      await worker.exited;
    }
    for (const name of [queue, `${queue}.retry`, `${queue}.dead`])
      await channel.deleteQueue(name).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  function fresh(): void {
    queue = uniqueName("worker-topology");
    dir = mkdtempSync(join(tmpdir(), "queuescale-worker-test-"));
    recordFile = join(dir, "runs.tsv");
  }

  function startWorker(env: Record<string, string> = {}): WorkerProcess {
    const worker = new WorkerProcess({
      BROKER: "rabbitmq",
      RABBITMQ_URL: URL,
      QUEUE: queue,
      DECLARE: "true",
      HANDLER: HOSTILE_HANDLER,
      WORK_RECORD_FILE: recordFile,
      MAX_ATTEMPTS: "2",
      RETRY_DELAY_SECONDS: "0.05",
      RETRY_MAX_DELAY_SECONDS: "1",
      ...env,
    });
    workers.push(worker);
    return worker;
  }

  async function publish(to: string, id: string, body: object, headers: Record<string, unknown> = {}): Promise<void> {
    channel.sendToQueue(to, Buffer.from(JSON.stringify(body)), { messageId: id, persistent: true, headers });
    await channel.waitForConfirms();
  }

  const probe = <T>(look: (probing: Channel) => Promise<T>) => probeChannel(connection, look);

  const letters: DeadLetter[] = [];
  async function deadLetters(): Promise<DeadLetter[]> {
    letters.push(...(await takeDeadLetters(connection, queue)));
    return [...letters];
  }

  /** Whether a declare with these arguments matches the queue as it exists. */
  async function hasArguments(name: string, args: Record<string, unknown>): Promise<boolean> {
    return (await probe((probing) => probing.assertQueue(name, { durable: true, arguments: args }))) !== undefined;
  }

  it("creates a quorum queue: a handler that kills its process is dead-lettered after MAX_ATTEMPTS", async () => {
    fresh();
    letters.length = 0;
    let worker = startWorker();
    await worker.waitForLog("consuming");
    expect(await hasArguments(queue, { "x-queue-type": "quorum" })).toBe(true);
    await publish(queue, "suicide", { exit: true });

    // A supervisor's part: each time the worker dies, start another, until the message is dead-lettered.
    let restarts = 0;
    const dead = await eventually(
      async () => {
        const found = (await deadLetters()).find((letter) => letter.id === "suicide");
        if (found) return found;
        if (!worker.running) {
          expect((await worker.exited).code).toBe(3);
          restarts++;
          worker = startWorker();
        }
        return undefined;
      },
      { timeoutMs: 60_000, what: "the crashing message dead-lettered" },
    );
    expect(dead.attempts).toBe(3);
    expect(dead.reason).toContain("delivered 3 times without finishing (max 2 attempts)");
    expect(restarts).toBe(2);
    expect(readRecords(recordFile).get("suicide")).toBe(2);

    // The last worker stays up and goes on with the next message.
    await publish(queue, "after", {});
    await eventually(() => (readRecords(recordFile).has("after") ? true : undefined), { what: "the next message" });
    expect(worker.running).toBe(true);
  });

  it("accepts an existing classic queue (warning that it has no crash guard) and an older retry queue", async () => {
    fresh();
    await channel.assertQueue(queue, { durable: true });
    // The retry queue as earlier versions declared it: no TTL cap.
    await channel.assertQueue(`${queue}.retry`, {
      durable: true,
      arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue },
    });
    const worker = startWorker();
    await worker.waitForLog("consuming");
    expect(worker.logs.some((line) => /classic queue: .*no crash guard/.test(String(line.msg)))).toBe(true);
    expect(
      worker.logs.some((line) => line.queue === `${queue}.retry` && /other arguments/.test(String(line.msg))),
    ).toBe(true);
    await publish(queue, "retried", { failBelowAttempt: 2 });
    await eventually(() => (readRecords(recordFile).get("retried") === 2 ? true : undefined), {
      what: "the message retried once through the old retry queue",
    });
  });

  it("accepts an existing quorum queue, also one with arguments of its own", async () => {
    for (const args of [{}, { "x-max-length": 1000 }]) {
      fresh();
      await channel.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum", ...args } });
      const worker = startWorker();
      await worker.waitForLog("consuming");
      await publish(queue, "q", {});
      await eventually(() => (readRecords(recordFile).has("q") ? true : undefined), { what: "the message handled" });
      worker.kill("SIGKILL");
      await worker.exited;
      for (const name of [queue, `${queue}.retry`, `${queue}.dead`]) await channel.deleteQueue(name);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a message without expiry at the head of <queue>.retry does not block later retries", async () => {
    fresh();
    const worker = startWorker();
    await worker.waitForLog("consuming");
    // No expiration: only the queue's own TTL cap can move it on.
    await publish(`${queue}.retry`, "blocker", {});
    await publish(queue, "retried", { failBelowAttempt: 2 });
    await eventually(() => (readRecords(recordFile).get("retried") === 2 ? true : undefined), {
      what: "the retry behind the blocker delivered",
    });
    // The blocker itself went back to the work queue and was handled as any message.
    await eventually(() => (readRecords(recordFile).has("blocker") ? true : undefined), { what: "the blocker" });
  });

  it("runs a message whose publisher set x-delivery-count and x-queuescale-retries, on quorum and classic queues", async () => {
    for (const type of ["quorum", "classic"]) {
      fresh();
      letters.length = 0;
      if (type === "classic") await channel.assertQueue(queue, { durable: true });
      const worker = startWorker();
      await worker.waitForLog("consuming");
      await publish(queue, "forged", {}, { "x-delivery-count": 50, "x-queuescale-retries": 50 });
      await eventually(() => (readRecords(recordFile).has("forged") ? true : undefined), {
        what: `the forged message handled (${type})`,
      });
      // Run as a first attempt, not dead-lettered as one past MAX_ATTEMPTS.
      expect(readRecords(recordFile).get("forged")).toBe(1);
      expect(await deadLetters()).toEqual([]);
      worker.kill("SIGKILL");
      await worker.exited;
      for (const name of [queue, `${queue}.retry`, `${queue}.dead`]) await channel.deleteQueue(name);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
