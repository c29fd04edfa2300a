import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { ReadSettingsOptions } from "@queuescale/core";
import { UploadInputError } from "../upload/errors.js";
import { formatOfFileName } from "../upload/format.js";
import { StoppedOnInput, UPLOAD_WINDOW, publishRows } from "../upload/publisher.js";
import { readRows, type RowTally } from "../upload/rows.js";
import type { Command } from "./args.js";
import { createProgress } from "./progress.js";
import { CommandFailure, openSession } from "./session.js";

export interface PublishSummary {
  published: number;
  seconds: number;
  uploadId: string;
}

/**
 * Publishes a file (or stdin) as one message per row, the way POST …/upload does: streamed, in
 * windows that wait for confirms, ids `<upload id>:<line>`. The format comes from --format or the
 * file's extension (plain lines otherwise). Stops at the first row that is bad or not confirmed and
 * says how to resume (--from-line, --upload-id); exit 1 then.
 */
export async function runPublish(
  command: Command,
  options: ReadSettingsOptions,
  output: NodeJS.WriteStream = process.stderr,
): Promise<PublishSummary> {
  const fromStdin = command.file === "-";
  const format = command.format ?? (fromStdin ? undefined : formatOfFileName(command.file)) ?? "lines";
  const uploadId = command.uploadId ?? randomUUID();
  const name = fromStdin ? "standard input" : command.file;
  let size: number | undefined;
  if (!fromStdin) {
    try {
      size = (await stat(command.file)).size;
    } catch (error) {
      throw new CommandFailure(`cannot read ${name}: ${(error as Error).message}`);
    }
  }
  const { client, settings } = await openSession(command.queue, options);
  const input = fromStdin ? process.stdin : createReadStream(command.file);
  const started = performance.now();
  const tally: RowTally = { lines: 0, rows: 0 };
  let bytes = 0;
  let confirmed = 0;
  const progress = createProgress(output, size);
  const resume = (line: number) => `resume with --from-line ${line} --upload-id ${uploadId}`;
  let published: number;
  try {
    const rows = readRows(
      input,
      {
        format,
        uploadId,
        fromLine: command.fromLine,
        maxRowBytes: settings.MAX_BODY_BYTES,
        limit: Number.MAX_SAFE_INTEGER,
        onBytes: (count) => (bytes += count),
      },
      tally,
    );
    let result;
    try {
      result = await publishRows(client, command.queue, rows, {
        ...UPLOAD_WINDOW,
        onOutcomes(outcomes) {
          confirmed += outcomes.filter((outcome) => outcome.ok).length;
          progress.update({ bytes, rows: confirmed });
        },
      });
    } catch (error) {
      const input = error instanceof StoppedOnInput ? error.input : error;
      if (!(input instanceof UploadInputError)) throw input;
      published = (error as StoppedOnInput).accepted;
      progress.stop();
      throw new CommandFailure(
        `${input.message} in ${name}; ${published} messages were published (every row before line ${input.line}); ` +
          `fix it and ${resume(input.line)}`,
      );
    }
    published = result.accepted;
    progress.stop();
    if (!result.ok) {
      throw new CommandFailure(
        `line ${result.line} was not confirmed (${result.reason}: ${result.detail}); ${published} messages were published ` +
          `(every row before line ${result.line}); ${resume(result.line)}`,
      );
    }
  } finally {
    progress.stop();
    input.destroy();
    await client.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const rate = seconds > 0 ? Math.round(published / seconds) : 0;
  output.write(
    `published ${published} messages to ${command.queue} (${rate}/s) from ${tally.lines} lines of ${name} as ${format}, upload id ${uploadId}\n`,
  );
  return { published, seconds, uploadId };
}
