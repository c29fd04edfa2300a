#!/usr/bin/env node
import { onShutdownSignal, runMain, printHelpIfAsked } from "@queuescale/core";
import { startExporter } from "./exporter.js";
import { exporterSettings } from "./settings.js";

const PROGRAM = "queuescale-exporter";

const SUMMARY = [
  "Publishes per-queue (RabbitMQ) and per-consumer (NATS JetStream) backlog gauges for autoscaling.",
  "Serves /metrics, /healthz and /readyz.",
].join("\n");

runMain(PROGRAM, async () => {
  const argv = process.argv.slice(2);
  if (printHelpIfAsked(argv, PROGRAM, SUMMARY, exporterSettings)) return;
  const exporter = await startExporter({ argv, env: process.env });
  onShutdownSignal(async (signal) => {
    exporter.logger.info({ signal }, "shutting down");
    await exporter.stop();
  });
});
