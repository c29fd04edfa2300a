import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "@queuescale/test-support/names";
import {
  SUPPORTED_NATS_SERVERS,
  leavePullsWaiting,
  natsServerVersion,
  receiveMessages,
  startNatsServer,
  type NatsTestServer,
} from "@queuescale/test-support/nats-server";
import type { DeadLetter, TestMessage } from "@queuescale/test-support/broker-harness";
import { natsHarnessAt, type NatsWorkerTarget } from "@queuescale/test-support/nats/harness";
import { EXAMPLE_HANDLER, WorkerProcess, buildWorker, readRecords } from "./support/worker-process.js";

const CRASHING_HANDLER = fileURLToPath(new URL("./fixtures/handlers/crashing.js", import.meta.url));

function job(id: string, payload: object = {}): TestMessage {
  return { id, body: Buffer.from(JSON.stringify({ id, ...payload })) };
}

/**
 * Dead letters on every nats-server version the project supports, each started here: nats-server
 * 2.9 ignores `term` with a reason and keeps `term`ed messages in a work-queue stream, and a
 * message can run out of deliveries (max_deliver) without any worker seeing its last one.
 */
for (const server of SUPPORTED_NATS_SERVERS) {
  describe(`queuescale-worker dead letters on nats-server ${server.version}`, () => {
    let nats: NatsTestServer;
    let target: NatsWorkerTarget;
    let dir: string;
    let recordFile: string;
    let supervising = false;
    const workers: WorkerProcess[] = [];
    const connections: NatsConnection[] = [];

    beforeAll(async () => {
      buildWorker();
      nats = await startNatsServer({ binary: server.binary });
    }, 120_000);

    afterAll(async () => {
      await nats?.stop();
    });

    afterEach(async () => {
      supervising = false;
      for (const worker of workers.splice(0)) {
        worker.kill("SIGKILL");
        await worker.exited;
      }
      for (const connection of connections.splice(0)) await connection.close().catch(() => undefined);
      await target?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    async function freshTarget(): Promise<void> {
      target = await natsHarnessAt(nats.port).workerTarget();
      dir = mkdtempSync(join(tmpdir(), "queuescale-worker-test-"));
      recordFile = join(dir, "handled.tsv");
    }

    function startWorker(env: Record<string, string>): WorkerProcess {
      const worker = new WorkerProcess({
        ...target.workerEnv(),
        NATS_ACK_WAIT_SECONDS: "1",
        WORK_RECORD_FILE: recordFile,
        RETRY_DELAY_SECONDS: "0.05",
        RETRY_MAX_DELAY_SECONDS: "0.2",
        ...env,
      });
      workers.push(worker);
      return worker;
    }

    /** Keeps one worker running, as a Deployment would: a new one whenever the last exited. */
    function superviseWorker(env: Record<string, string>): void {
      supervising = true;
      const run = () => {
        const worker = startWorker(env);
        void worker.exited.then(() => {
          if (supervising) run();
        });
      };
      run();
    }

    /**
     * Waits until nothing of the target is left to do: the work stream empty (a work-queue stream
     * removes what is acked), nothing pending or unacked on the consumer, no advisory waiting. From
     * then on no dead letter can be added, so counting them is final.
     */
    async function settledDeadLetters(expected: number): Promise<DeadLetter[]> {
      return eventually(
        async () => {
          const letters = await target.deadLetters();
          const backlog = await target.backlog();
          const pending = await target.consumerPending();
          const advisories = await target.exhaustedAdvisories();
          if (letters.length < expected || backlog > 0 || pending > 0 || advisories > 0) {
            throw new Error(
              `${letters.length} dead letters, ${backlog} in the stream, ${pending} pending, ${advisories} advisories`,
            );
          }
          return letters;
        },
        { timeoutMs: 45_000, what: `${expected} dead letters and nothing left in the stream` },
      );
    }

    it(`runs nats-server ${server.version}`, () => {
      expect(natsServerVersion(server.binary)).toMatch(new RegExp(`^v${server.version.replace(".", "\\.")}\\.`));
    });

    it("dead-letters an undecodable message and one whose handler always fails exactly once each", async () => {
      await freshTarget();
      const garbage: TestMessage = { id: "garbage", body: Buffer.from("this is not JSON") };
      const poison = job("poison", { fail: true });
      const good = Array.from({ length: 10 }, (_, index) => job(`good-${index}`));
      await target.publish([garbage, poison, ...good]);
      const worker = startWorker({ HANDLER: EXAMPLE_HANDLER, WORK_MS: "1", MAX_ATTEMPTS: "3" });

      const letters = await settledDeadLetters(2);
      expect(letters.map((letter) => letter.id).sort()).toEqual(["garbage", "poison"]);
      expect(letters.find((letter) => letter.id === "garbage")!.reason).toContain("not JSON");
      expect(letters.find((letter) => letter.id === "poison")!.reason).toContain("failed 3 of 3 attempts");
      expect([...readRecords(recordFile).keys()].sort()).toEqual(good.map((message) => message.id).sort());
      expect(await worker.metric("queuescale_worker_messages_total", { outcome: "dead_letter" })).toBe(2);
      await worker.stop();
      expect((await worker.exited).code).toBe(0);
    });

    it("dead-letters exactly once a message whose handler kills its process, the worker restarted each time", async () => {
      await freshTarget();
      const crash = job("crash", { crash: true });
      const good = Array.from({ length: 5 }, (_, index) => job(`after-${index}`));
      await target.publish([crash, ...good]);
      superviseWorker({ HANDLER: CRASHING_HANDLER, MAX_ATTEMPTS: "2", CONCURRENCY: "1" });

      const letters = await settledDeadLetters(1);
      expect(letters.map((letter) => letter.id)).toEqual(["crash"]);
      expect(letters[0]!.body.equals(crash.body)).toBe(true);
      expect([...readRecords(recordFile).keys()].sort()).toEqual(good.map((message) => message.id).sort());
      // The handler really killed its worker: more than one process ran.
      expect(workers.filter((worker) => !worker.running).length).toBeGreaterThan(0);
    });

    it("dead-letters a message that ran out of deliveries while no worker ran", async () => {
      await freshTarget();
      // A worker creates the topology (max_deliver 2), then goes away.
      const first = startWorker({ HANDLER: EXAMPLE_HANDLER, MAX_ATTEMPTS: "1" });
      await first.waitForLog("consuming");
      await first.stop();
      const orphan = job("orphan");
      await target.publish([orphan]);

      // Someone else's client takes both deliveries and never settles them, then pulls again: the
      // server stops delivering the message, and only its MAX_DELIVERIES advisory says so.
      const nc = await connect({ servers: `nats://127.0.0.1:${nats.port}` });
      connections.push(nc);
      await receiveMessages(nc, target.stream, target.consumer, 1);
      await receiveMessages(nc, target.stream, target.consumer, 1);
      const waiting = leavePullsWaiting(nc, target.stream, target.consumer, 1, 10_000);
      await eventually(async () => ((await target.exhaustedAdvisories()) === 1 ? true : undefined), {
        what: "the max_deliver advisory stored",
      });
      waiting.unsubscribe();
      expect(await target.backlog()).toBe(1);
      expect(await target.consumerPending()).toBe(0);

      const worker = startWorker({ HANDLER: EXAMPLE_HANDLER, MAX_ATTEMPTS: "1" });
      const letters = await settledDeadLetters(1);
      expect(letters.map((letter) => letter.id)).toEqual(["orphan"]);
      expect(letters[0]!.attempts).toBe(2);
      expect(letters[0]!.reason).toContain("max_deliver");
      expect(letters[0]!.body.equals(orphan.body)).toBe(true);
      expect(readRecords(recordFile).size).toBe(0);
      expect(await worker.metric("queuescale_worker_messages_total", { outcome: "dead_letter" })).toBe(1);
      await worker.stop();
    });
  });
}
