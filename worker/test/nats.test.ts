import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "@queuescale/test-support/names";
import type { WorkerTarget } from "@queuescale/test-support/broker-harness";
import { natsHarness } from "@queuescale/test-support/nats/harness";
import { EXAMPLE_HANDLER, WorkerProcess, buildWorker, readRecords } from "./support/worker-process.js";

describe("queuescale-worker on nats, a handler slower than ack_wait", () => {
  let target: WorkerTarget;
  let dir: string;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    buildWorker();
    target = await natsHarness.workerTarget();
    dir = mkdtempSync(join(tmpdir(), "queuescale-worker-test-"));
  }, 120_000);

  afterAll(async () => {
    worker?.kill("SIGKILL");
    await worker?.exited;
    await target?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps the message its own (working()) instead of letting JetStream redeliver it", async () => {
    const recordFile = join(dir, "handled.tsv");
    // Three times ack_wait: without progress signals JetStream would redeliver it twice meanwhile.
    await target.publish([{ id: "long", body: Buffer.from(JSON.stringify({ ms: 3000 })) }]);
    worker = new WorkerProcess({
      ...target.workerEnv(),
      NATS_ACK_WAIT_SECONDS: "1",
      CONCURRENCY: "4",
      HANDLER: EXAMPLE_HANDLER,
      WORK_RECORD_FILE: recordFile,
    });
    await eventually(() => (readRecords(recordFile).size === 1 ? true : undefined), {
      what: "the long message handled",
    });
    await eventually(async () => ((await target.backlog()) === 0 ? true : undefined), { what: "the message acked" });
    // A redelivered copy would be handled again within ack_wait (plus the 3 s it takes).
    await new Promise((resolve) => setTimeout(resolve, 4500));
    expect(readRecords(recordFile).get("long")).toBe(1);
    expect(await worker.metric("queuescale_worker_messages_total", { outcome: "ack" })).toBe(1);
    await worker.stop();
    expect((await worker.exited).code).toBe(0);
  });
});

describe("queuescale-worker on nats, DECLARE=false without a stream for max_deliver advisories", () => {
  let target: WorkerTarget | undefined;

  afterAll(async () => {
    await target?.cleanup();
  });

  it("exits 1 naming the advisory subject instead of leaving exhausted messages unseen", async () => {
    buildWorker();
    target = await natsHarness.workerTarget();
    const env = { ...target.workerEnv(), HANDLER: EXAMPLE_HANDLER };
    const declaring = new WorkerProcess(env);
    await declaring.waitForLog("consuming");
    await declaring.stop();
    const { stream } = target.identity;
    const connection = await connect({ servers: `nats://127.0.0.1:${target.brokerPort}` });
    try {
      await (await jetstreamManager(connection)).streams.delete(`${stream}_DEAD_EXHAUSTED`);
    } finally {
      await connection.close();
    }

    const worker = new WorkerProcess({ ...env, DECLARE: "false" });
    expect((await worker.exited).code).toBe(1);
    expect(worker.stderr).toContain(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.workers`);
    expect(worker.stderr).toContain("DECLARE=true");
  });
});
