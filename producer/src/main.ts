#!/usr/bin/env node
import { onShutdownSignal, runMain, printHelpIfAsked } from "@queuescale/core";
import { splitCommand } from "./cli/args.js";
import { runPublish } from "./cli/publish.js";
import { CommandFailure } from "./cli/session.js";
import { runTrickle } from "./cli/trickle.js";
import { limitHeapGrowth } from "./heap-growth.js";
import { startProducer } from "./server.js";
import { producerSettings } from "./settings.js";

const PROGRAM = "queuescale-producer";

const USAGE = `Commands:
  (none) | serve                            serve the HTTP API (POST /v1/queues/NAME/messages and /upload, GET /v1/queues, admin routes)
  publish --queue NAME [--file FILE|-]      publish each row of FILE (default stdin) as one message, with confirms
          [--format csv|ndjson|lines]       how rows are read (default: from the extension, .csv .ndjson .jsonl; else lines)
          [--from-line N --upload-id ID]    resume: ids are ID:LINE, rows before line N are skipped
  trickle --queue NAME [--interval 200ms]   publish a synthetic message every interval until SIGINT/SIGTERM`;

// Before anything is allocated: the heap of an upload stays small only with frequent full collections.
limitHeapGrowth();

runMain(PROGRAM, async () => {
  const argv = process.argv.slice(2);
  const summary = `Publishes work to RabbitMQ or NATS JetStream with publisher confirms, and manages queues.\n\n${USAGE}`;
  if (printHelpIfAsked(argv, PROGRAM, summary, producerSettings)) return;
  const command = splitCommand(argv);
  const options = { argv: command.settingsArgv, env: process.env };
  switch (command.name) {
    case "publish":
      try {
        await runPublish(command, options);
      } catch (error) {
        if (!(error instanceof CommandFailure)) throw error;
        process.stderr.write(`${PROGRAM}: ${error.message}\n`);
        process.exitCode = 1;
      }
      return;
    case "trickle":
      try {
        await runTrickle(command, options);
      } catch (error) {
        if (!(error instanceof CommandFailure)) throw error;
        process.stderr.write(`${PROGRAM}: ${error.message}\n`);
        process.exitCode = 1;
      }
      return;
    case "serve": {
      const producer = await startProducer(options);
      onShutdownSignal(async (signal) => {
        producer.logger.info({ signal }, "shutting down");
        await producer.stop();
      });
    }
  }
});
