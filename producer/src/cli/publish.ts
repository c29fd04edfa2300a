import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { ReadSettingsOptions } from "@queuescale/core";
import type { OutgoingMessage } from "../brokers/types.js";
import type { Command } from "./args.js";
import { CommandFailure, openSession } from "./session.js";

/** Lines per publish call: big enough to keep confirms pipelined, small enough to report progress. */
const BATCH_LINES = 500;

export interface PublishSummary {
  published: number;
  seconds: number;
}

/**
 * Publishes every non-empty line of the file (or stdin) as one message, its bytes unchanged, and
 * waits for each batch to be confirmed before reading on. Stops at the first batch the broker did
 * not fully accept and says from which line to resume.
 */
export async function runPublish(
  command: Command,
  options: ReadSettingsOptions,
  progress: NodeJS.WritableStream = process.stderr,
): Promise<PublishSummary> {
  const { client } = await openSession(command.queue, options);
  const input = command.file === "-" ? process.stdin : createReadStream(command.file);
  const started = performance.now();
  let published = 0;
  let lineNumber = 0;
  const report = () => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(published / seconds) : 0;
    progress.write(`published ${published} messages to ${command.queue} (${rate}/s)\n`);
  };
  const ticker = setInterval(report, 1_000);
  try {
    const lines = createInterface({ input, crlfDelay: Infinity });
    let batch: { line: number; message: OutgoingMessage }[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const outcomes = await client.publish(
        command.queue,
        batch.map((entry) => entry.message),
      );
      const firstFailure = outcomes.findIndex((outcome) => !outcome.ok);
      if (firstFailure >= 0) {
        const outcome = outcomes[firstFailure]!;
        published += outcomes.filter((each) => each.ok).length;
        const detail = outcome.ok ? "" : `${outcome.reason}: ${outcome.detail}`;
        throw new CommandFailure(
          `line ${batch[firstFailure]!.line} was not accepted (${detail}); ${published} messages were published, ` +
            `those up to line ${batch[firstFailure]!.line - 1} all confirmed`,
        );
      }
      published += outcomes.length;
      batch = [];
    };
    try {
      for await (const line of lines) {
        lineNumber++;
        if (line.trim() === "") continue;
        batch.push({ line: lineNumber, message: { id: randomUUID(), body: Buffer.from(line), headers: {} } });
        if (batch.length >= BATCH_LINES) await flush();
      }
    } catch (error) {
      if (error instanceof CommandFailure) throw error;
      throw new CommandFailure(
        `cannot read ${command.file === "-" ? "standard input" : command.file}: ${String(error)}`,
      );
    }
    await flush();
  } finally {
    clearInterval(ticker);
    report();
    await client.close();
  }
  return { published, seconds: (performance.now() - started) / 1000 };
}
