#!/usr/bin/env node
import { onShutdownSignal, runMain, settingsHelp } from "@queuescale/core";
import { startExporter } from "./exporter.js";
import { exporterSettings } from "./settings.js";

const PROGRAM = "queuescale-exporter";

runMain(PROGRAM, async () => {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(
      `${settingsHelp(
        PROGRAM,
        "Publishes per-queue (RabbitMQ) and per-consumer (NATS JetStream) backlog gauges for autoscaling.\nServes /metrics, /healthz and /readyz.",
        exporterSettings,
      )}\n`,
    );
    return;
  }
  const exporter = await startExporter({ argv, env: process.env });
  onShutdownSignal(async (signal) => {
    exporter.logger.info({ signal }, "shutting down");
    await exporter.stop();
  });
});
