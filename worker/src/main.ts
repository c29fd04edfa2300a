#!/usr/bin/env node
import { onShutdownSignal, runMain, printHelpIfAsked } from "@queuescale/core";
import { workerSettings } from "./settings.js";
import { startWorker } from "./worker.js";

const PROGRAM = "queuescale-worker";

const SUMMARY = [
  "Consumes a RabbitMQ queue or a NATS JetStream durable consumer with at-least-once delivery, retries and",
  "dead letters, and publishes its own queue depth. Serves /metrics, /healthz and /readyz.",
].join("\n");

runMain(PROGRAM, async () => {
  const argv = process.argv.slice(2);
  if (printHelpIfAsked(argv, PROGRAM, SUMMARY, workerSettings)) return;
  const worker = await startWorker({ argv, env: process.env });
  onShutdownSignal(async (signal) => {
    worker.logger.info({ signal }, "shutting down");
    await worker.stop();
  });
  // A missing queue or stream ends the process (exit 1) with the reason; a ConfigError found only
  // after connecting (SUBJECTS for a new stream) exits 2 like any other.
  await worker.consuming.catch(async (error: unknown) => {
    await worker.stop().catch(() => undefined);
    throw error;
  });
});
