import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "@queuescale/test-support/names";
import { findSamples, scrape } from "@queuescale/test-support/scrape";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import type { BrokerHarness, DeadLetter, TestMessage, WorkerTarget } from "@queuescale/test-support/broker-harness";
import { EXAMPLE_HANDLER, HOSTILE_HANDLER, WorkerProcess, buildWorker, readRecords } from "./worker-process.js";

function jobs(count: number, prefix: string, payload: (index: number) => object = () => ({})): TestMessage[] {
  return Array.from({ length: count }, (_, index) => {
    const id = `${prefix}-${index}`;
    return { id, body: Buffer.from(JSON.stringify({ id, ...payload(index) })) };
  });
}

function missing(records: Map<string, number>, messages: readonly TestMessage[]): string[] {
  return messages.filter((message) => !records.has(message.id)).map((message) => message.id);
}

function totalHandled(records: Map<string, number>): number {
  return [...records.values()].reduce((sum, count) => sum + count, 0);
}

/**
 * The worker's delivery guarantees, run against one real broker. Each test owns a fresh queue or
 * stream, real worker processes (the built bin with the example handler) and a record file the
 * handler appends each handled message id to.
 */
export function describeWorkerScenarios(harness: BrokerHarness): void {
  describe(`queuescale-worker on ${harness.broker}`, () => {
    let target: WorkerTarget;
    let dir: string;
    let recordFile: string;
    const workers: WorkerProcess[] = [];
    const proxies: TcpProxy[] = [];

    function startWorker(env: Record<string, string>): WorkerProcess {
      const worker = new WorkerProcess({
        ...target.workerEnv(),
        HANDLER: EXAMPLE_HANDLER,
        WORK_RECORD_FILE: recordFile,
        DEPTH_POLL_INTERVAL_SECONDS: "1",
        ...env,
      });
      workers.push(worker);
      return worker;
    }

    beforeAll(() => buildWorker(), 120_000);

    afterEach(async () => {
      for (const worker of workers.splice(0)) {
        worker.kill("SIGKILL");
        await worker.exited;
      }
      for (const proxy of proxies.splice(0)) await proxy.close();
      await target?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    // Each test gets its own queue or stream and record file; afterEach deletes them, also on failure.
    async function freshTarget(): Promise<void> {
      target = await harness.workerTarget();
      dir = mkdtempSync(join(tmpdir(), "queuescale-worker-test-"));
      recordFile = join(dir, "handled.tsv");
    }

    it("runs 1,000 messages through two workers: each handled and acked once, depth back to 0", async () => {
      await freshTarget();
      const env = { WORK_MS: "2", CONCURRENCY: "20" };
      const first = startWorker(env);
      const second = startWorker(env);
      await first.waitForLog("consuming");
      await second.waitForLog("consuming");
      const messages = jobs(1000, "bulk");
      await target.publish(messages);

      await eventually(() => (readRecords(recordFile).size === messages.length ? true : undefined), {
        timeoutMs: 60_000,
        what: "every message handled",
      });
      const acks = await eventually(
        async () => {
          const counts = [
            await first.metric("queuescale_worker_messages_total", { outcome: "ack" }),
            await second.metric("queuescale_worker_messages_total", { outcome: "ack" }),
          ];
          return counts[0]! + counts[1]! === messages.length ? counts : undefined;
        },
        { what: "acks of both workers to add up" },
      );
      const records = readRecords(recordFile);
      expect(missing(records, messages)).toEqual([]);
      expect([...records.values()].every((count) => count === 1)).toBe(true);
      expect(acks.every((count) => count > 0)).toBe(true);
      expect(await first.metric("queuescale_worker_messages_total", { outcome: "retry" })).toBe(0);

      // The worker's own depth gauge, read through core's depth source, comes back to 0.
      const base = await first.baseUrl();
      await eventually(
        async () => {
          const depth = findSamples(await scrape(base), "queuescale_queue_depth", {
            broker: harness.broker,
            ...target.identity,
          });
          return depth.length === 1 && depth[0]!.value === 0 ? true : undefined;
        },
        { what: "queuescale_queue_depth 0 on the worker's /metrics" },
      );

      await first.stop();
      await second.stop();
      expect((await first.exited).code).toBe(0);
      expect((await second.exited).code).toBe(0);
      expect(await target.backlog()).toBe(0);
    });

    it("times each message's wait from its publish and labels its own families with its queue", async () => {
      await freshTarget();
      const messages = jobs(5, "waited");
      await target.publish(messages);
      const publishedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const worker = startWorker({ WORK_MS: "20", CONCURRENCY: "3", DRAIN_TARGET_SECONDS: "45" });
      await eventually(() => (readRecords(recordFile).size === messages.length ? true : undefined), {
        timeoutMs: 30_000,
        what: "every message handled",
      });
      const queue = { broker: harness.broker, ...target.identity };
      const samples = await eventually(
        async () => {
          const scraped = await scrape(await worker.baseUrl());
          const count = findSamples(scraped, "queuescale_worker_message_wait_seconds_count", queue);
          return count[0]?.value === messages.length ? scraped : undefined;
        },
        { what: "a wait observed for every message" },
      );
      const waited = findSamples(samples, "queuescale_worker_message_wait_seconds_sum", queue)[0]!.value;
      const mostSince = (Date.now() - publishedAt) / 1000;
      // Each waited at least the 1.5 s before the worker started, and no longer than the test ran.
      expect(waited / messages.length).toBeGreaterThanOrEqual(1.4);
      expect(waited / messages.length).toBeLessThanOrEqual(mostSince + 0.5);
      expect(findSamples(samples, "queuescale_worker_processing_seconds_count", queue)[0]!.value).toBe(5);
      expect(findSamples(samples, "queuescale_worker_messages_total", { ...queue, outcome: "ack" })[0]!.value).toBe(5);
      expect(findSamples(samples, "queuescale_worker_concurrency", queue).map((sample) => sample.value)).toEqual([3]);
      expect(findSamples(samples, "queuescale_worker_drain_target_seconds", queue).map((s) => s.value)).toEqual([45]);
      expect(findSamples(samples, "queuescale_worker_connected", queue).map((sample) => sample.value)).toEqual([1]);
    });

    it("kill -9 with messages in flight: another worker handles every message at least once", async () => {
      await freshTarget();
      const env = { WORK_MS: "100", CONCURRENCY: "10" };
      const messages = jobs(300, "crash");
      await target.publish(messages);
      const doomed = startWorker(env);
      await eventually(
        async () =>
          readRecords(recordFile).size >= 30 && (await doomed.metric("queuescale_worker_in_flight")) > 0
            ? true
            : undefined,
        { what: "the first worker to be busy" },
      );
      doomed.kill("SIGKILL");
      await doomed.exited;
      const handledBeforeCrash = totalHandled(readRecords(recordFile));

      const successor = startWorker(env);
      await eventually(() => (readRecords(recordFile).size === messages.length ? true : undefined), {
        timeoutMs: 60_000,
        what: "every message handled",
      });
      const records = readRecords(recordFile);
      const duplicates = totalHandled(records) - messages.length;
      console.info(
        `[${harness.broker}] kill -9 after ${handledBeforeCrash} handled: ${messages.length} messages, ${duplicates} handled twice`,
      );
      expect(missing(records, messages)).toEqual([]);
      await eventually(async () => ((await target.backlog()) === 0 ? true : undefined), {
        what: "the backlog to empty",
      });
      await successor.stop();
      expect((await successor.exited).code).toBe(0);
    });

    it("SIGTERM lets in-flight messages finish and acks them, exits 0, loses nothing", async () => {
      await freshTarget();
      const slow = jobs(4, "slow", () => ({ ms: 1500 }));
      const queued = jobs(20, "queued", () => ({ ms: 0 }));
      await target.publish(slow);
      await target.publish(queued);
      const worker = startWorker({ CONCURRENCY: "4", SHUTDOWN_TIMEOUT_SECONDS: "15" });
      await eventually(async () => ((await worker.metric("queuescale_worker_in_flight")) === 4 ? true : undefined), {
        what: "four slow messages in flight",
      });
      worker.kill("SIGTERM");
      const exit = await Promise.race([
        worker.exited,
        new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), 20_000)),
      ]);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(worker.logsWith("shutdown timeout: unfinished messages left unacknowledged for redelivery")).toEqual([]);
      const records = readRecords(recordFile);
      expect(missing(records, slow)).toEqual([]);
      // The slow ones were acked; nothing else was taken, or it was given back.
      await eventually(
        async () => {
          const backlog = await target.backlog();
          if (backlog !== queued.length) throw new Error(`backlog ${backlog}`);
          return true;
        },
        { what: `a backlog of ${queued.length}` },
      );

      const successor = startWorker({});
      await eventually(() => (missing(readRecords(recordFile), [...slow, ...queued]).length === 0 ? true : undefined), {
        what: "the rest handled by the next worker",
      });
      await successor.stop();
    });

    it("SIGTERM past the timeout leaves unfinished messages unacknowledged for redelivery", async () => {
      await freshTarget();
      const slow = jobs(2, "stuck", () => ({ ms: 20_000 }));
      await target.publish(slow);
      const worker = startWorker({ CONCURRENCY: "2", SHUTDOWN_TIMEOUT_SECONDS: "1" });
      await eventually(async () => ((await worker.metric("queuescale_worker_in_flight")) === 2 ? true : undefined), {
        what: "two messages in flight",
      });
      worker.kill("SIGTERM");
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      expect(worker.logsWith("shutdown timeout: unfinished messages left unacknowledged for redelivery")).toHaveLength(
        1,
      );
      expect(readRecords(recordFile).size).toBe(0);
      await eventually(async () => ((await target.backlog()) === slow.length ? true : undefined), {
        what: "both messages back in the backlog",
      });
    });

    it("dead-letters a poison message after MAX_ATTEMPTS and an undecodable one at once; the rest flow", async () => {
      await freshTarget();
      const poison: TestMessage = { id: "poison", body: Buffer.from(JSON.stringify({ fail: true })) };
      const garbage: TestMessage = { id: "garbage", body: Buffer.from("this is not JSON") };
      const good = jobs(50, "good");
      await target.publish([poison, garbage, ...good]);
      const worker = startWorker({
        WORK_MS: "5",
        CONCURRENCY: "5",
        MAX_ATTEMPTS: "3",
        RETRY_DELAY_SECONDS: "0.05",
        RETRY_MAX_DELAY_SECONDS: "0.2",
      });
      let letters: DeadLetter[] = [];
      await eventually(
        async () => {
          letters = await target.deadLetters();
          return letters.length >= 2 && readRecords(recordFile).size === good.length ? true : undefined;
        },
        { what: "two dead letters and every good message handled" },
      );
      expect(missing(readRecords(recordFile), good)).toEqual([]);
      expect(letters.map((letter) => letter.id).sort()).toEqual(["garbage", "poison"]);
      const poisonLetter = letters.find((letter) => letter.id === "poison")!;
      expect(poisonLetter.attempts).toBe(3);
      expect(poisonLetter.reason).toContain("failed 3 of 3 attempts");
      expect(poisonLetter.reason).toContain("simulated poison message");
      expect(poisonLetter.body.equals(poison.body)).toBe(true);
      const garbageLetter = letters.find((letter) => letter.id === "garbage")!;
      expect(garbageLetter.attempts).toBe(1);
      expect(garbageLetter.reason).toContain("not JSON");
      expect(garbageLetter.body.equals(garbage.body)).toBe(true);
      await eventually(
        async () =>
          (await worker.metric("queuescale_worker_messages_total", { outcome: "ack" })) === 50 ? true : undefined,
        { what: "50 acks" },
      );
      expect(await worker.metric("queuescale_worker_messages_total", { outcome: "retry" })).toBe(2);
      expect(await worker.metric("queuescale_worker_messages_total", { outcome: "dead_letter" })).toBe(2);
      await worker.stop();
      expect(await target.backlog()).toBe(0);
    });

    it("dead-letters JSON with invalid UTF-8 at once as undecodable, without running the handler", async () => {
      await freshTarget();
      // Valid JSON once U+FFFD replaces the stray 0xff byte: a lossy decoder would hand it over.
      const invalid: TestMessage = {
        id: "invalid-utf8",
        body: Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff]), Buffer.from('"}')]),
      };
      const good = jobs(5, "valid");
      await target.publish([invalid, ...good]);
      const worker = startWorker({ WORK_MS: "0", MAX_ATTEMPTS: "3" });
      const letters = await eventually(
        async () => {
          const seen = await target.deadLetters();
          return seen.length > 0 && readRecords(recordFile).size === good.length ? seen : undefined;
        },
        { what: "a dead letter and the valid messages handled" },
      );
      expect(letters[0]!.id).toBe(invalid.id);
      expect(letters[0]!.attempts).toBe(1);
      expect(letters[0]!.reason).toContain("not valid UTF-8");
      expect(letters[0]!.body.equals(invalid.body)).toBe(true);
      expect(readRecords(recordFile).has(invalid.id)).toBe(false);
      expect(await worker.metric("queuescale_worker_messages_total", { outcome: "retry" })).toBe(0);
      await worker.stop();
    });

    it("a handler rejecting with values String() cannot convert: each retried, dead-lettered after MAX_ATTEMPTS, worker up", async () => {
      await freshTarget();
      const kinds = ["null-prototype", "symbol", "throwing-to-string", "proxy", "undefined"];
      const hostile = kinds.map((kind) => ({
        id: `hostile-${kind}`,
        body: Buffer.from(JSON.stringify({ throw: kind })),
      }));
      const good = jobs(20, "fine");
      await target.publish([...hostile, ...good]);
      const worker = startWorker({
        HANDLER: HOSTILE_HANDLER,
        MAX_ATTEMPTS: "2",
        RETRY_DELAY_SECONDS: "0.05",
        RETRY_MAX_DELAY_SECONDS: "0.1",
      });
      const firstLetters = async () => {
        const byId = new Map<string, DeadLetter>();
        for (const letter of await target.deadLetters()) if (!byId.has(letter.id)) byId.set(letter.id, letter);
        return byId;
      };
      const letters = await eventually(
        async () => {
          if (!worker.running) throw new Error(`worker exited: ${worker.stderr}`);
          const byId = await firstLetters();
          return byId.size === hostile.length ? byId : undefined;
        },
        { what: "every hostile message dead-lettered" },
      );
      for (const message of hostile) {
        const letter = letters.get(message.id)!;
        expect(letter.attempts).toBe(2);
        expect(letter.reason).toContain("failed 2 of 2 attempts");
        expect(letter.body.equals(message.body)).toBe(true);
      }
      const records = readRecords(recordFile);
      expect(hostile.map((message) => records.get(message.id))).toEqual(hostile.map(() => 2));
      expect(missing(records, good)).toEqual([]);
      expect(await worker.metric("queuescale_worker_messages_total", { outcome: "retry" })).toBe(hostile.length);
      expect(worker.running).toBe(true);
      expect(worker.stderr).not.toMatch(/unhandled|TypeError/i);
      await worker.stop();
      expect((await worker.exited).code).toBe(0);
    });

    it("HANDLER_TIMEOUT_SECONDS: a hanging handler fails its attempt, frees its slot, is dead-lettered after MAX_ATTEMPTS", async () => {
      await freshTarget();
      const hanging: TestMessage = { id: "hanging", body: Buffer.from(JSON.stringify({ hang: true })) };
      const good = jobs(5, "behind");
      await target.publish([hanging, ...good]);
      // One slot: without the timeout the hanging message would hold it and nothing behind it would run.
      const worker = startWorker({
        HANDLER: HOSTILE_HANDLER,
        CONCURRENCY: "1",
        HANDLER_TIMEOUT_SECONDS: "2",
        MAX_ATTEMPTS: "2",
        RETRY_DELAY_SECONDS: "0.05",
        RETRY_MAX_DELAY_SECONDS: "0.1",
      });
      // While it hangs, the stall shows on /metrics.
      await eventually(
        async () => ((await worker.metric("queuescale_worker_oldest_in_flight_seconds")) > 0 ? true : undefined),
        { what: "the oldest in-flight message's age on /metrics" },
      );
      const letter = await eventually(
        async () => (await target.deadLetters()).find((found) => found.id === hanging.id),
        { what: "the hanging message dead-lettered" },
      );
      expect(letter.attempts).toBe(2);
      expect(letter.reason).toContain("failed 2 of 2 attempts: handler timed out after 2 s");
      await eventually(() => (missing(readRecords(recordFile), good).length === 0 ? true : undefined), {
        what: "the messages behind it handled",
      });
      expect(readRecords(recordFile).get(hanging.id)).toBe(2);
      await eventually(
        async () => ((await worker.metric("queuescale_worker_oldest_in_flight_seconds")) === 0 ? true : undefined),
        { what: "nothing in flight" },
      );
      await worker.stop();
      expect((await worker.exited).code).toBe(0);
    });

    it("survives a cut connection: /readyz 503 meanwhile, reconnects, nothing settled on a dead connection", async () => {
      await freshTarget();
      const proxy = new TcpProxy(target.brokerPort);
      proxies.push(proxy);
      await proxy.start();
      const messages = jobs(400, "cut");
      await target.publish(messages);
      const worker = startWorker({ ...target.workerEnv(proxy.port), WORK_MS: "50", CONCURRENCY: "10" });
      await eventually(() => (readRecords(recordFile).size >= 40 ? true : undefined), { what: "work under way" });
      expect(await worker.readyStatus()).toBe(200);

      await proxy.cut();
      await eventually(async () => ((await worker.readyStatus()) === 503 ? true : undefined), {
        what: "/readyz 503",
      });
      expect(await worker.metric("queuescale_worker_connected")).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await worker.readyStatus()).toBe(503);
      await proxy.restore();

      await eventually(() => (readRecords(recordFile).size === messages.length ? true : undefined), {
        timeoutMs: 60_000,
        what: "every message handled after the reconnect",
      });
      await eventually(async () => ((await worker.readyStatus()) === 200 ? true : undefined), { what: "/readyz 200" });
      expect(await worker.metric("queuescale_worker_connected")).toBe(1);
      const records = readRecords(recordFile);
      expect(missing(records, messages)).toEqual([]);
      const acks = await eventually(
        async () => {
          const count = await worker.metric("queuescale_worker_messages_total", { outcome: "ack" });
          return count + worker.logsWith("connection gone before settling; the broker redelivers it").length ===
            totalHandled(records)
            ? count
            : undefined;
        },
        { what: "every handled message acked once or left to the broker" },
      );
      console.info(
        `[${harness.broker}] connection cut: ${totalHandled(records)} handled, ${acks} acked, ${totalHandled(records) - acks} left to the broker`,
      );
      expect(worker.logs.filter((line) => /connection lost/.test(String(line.msg)))).not.toEqual([]);
      // A stale delivery tag acked on the new channel would make RabbitMQ close it (406).
      expect(worker.logs.filter((line) => /delivery tag|PRECONDITION/i.test(JSON.stringify(line)))).toEqual([]);
      expect(worker.logs.filter((line) => (line.level ?? 0) >= 50)).toEqual([]);
      await worker.stop();
      expect(await target.backlog()).toBe(0);
    });

    it("fails clearly (exit 1, naming it) when the queue or consumer is missing and DECLARE is false", async () => {
      await freshTarget();
      const worker = new WorkerProcess({ ...target.missingTargetEnv(), HANDLER: EXAMPLE_HANDLER });
      workers.push(worker);
      expect((await worker.exited).code).toBe(1);
      expect(worker.stderr).toContain(target.missingTargetName);
      expect(worker.stderr).toContain("DECLARE=true");
    });
  });
}
