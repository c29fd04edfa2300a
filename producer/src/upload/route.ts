import { randomUUID } from "node:crypto";
import type { Request, RequestHandler, Response } from "express";
import type { Logger } from "@queuescale/core";
import { QueueOperationError, type BrokerClient } from "../brokers/types.js";
import type { ProducerMetrics } from "../metrics.js";
import { UploadInputError } from "./errors.js";
import { UPLOAD_MEDIA_TYPES, formatOfMediaType, mediaType, type UploadFormat } from "./format.js";
import { UPLOAD_ID_RULE, isUploadId } from "./ids.js";
import { multipartFile } from "./multipart.js";
import { StoppedOnInput, UPLOAD_WINDOW, publishRows } from "./publisher.js";
import { readRows, type RowTally } from "./rows.js";

export interface UploadRouteOptions {
  readonly client: BrokerClient;
  readonly metrics: ProducerMetrics;
  readonly logger: Logger;
  /** MAX_UPLOAD_BYTES. */
  readonly maxUploadBytes: number;
  /** MAX_BODY_BYTES: no row makes a message larger than one POST …/messages could. */
  readonly maxRowBytes: number;
  /**
   * The checks POST …/messages makes before publishing (a valid, existing queue, a connected
   * broker), so uploads obey whatever that route obeys. Resolves to the queue name.
   */
  resolveQueue(request: Request): Promise<string>;
}

/** Closes the connection after an answer that left part of the body unread. */
const DRAIN_MS = 2_000;

function fromLineOf(request: Request): number {
  const raw = request.query.fromLine;
  if (raw === undefined) return 1;
  const value = Number(raw);
  if (typeof raw !== "string" || !/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < 1) {
    throw new UploadInputError(400, "fromLine must be a whole number from 1", 1);
  }
  return value;
}

function uploadIdOf(request: Request): string {
  const key = request.get("idempotency-key");
  if (key === undefined) return randomUUID();
  if (!isUploadId(key)) {
    throw new UploadInputError(400, `Idempotency-Key must be ${UPLOAD_ID_RULE}`, 1);
  }
  return key;
}

/** Stops reading an unfinished body: whatever is left is discarded, then the connection closes. */
function abandonBody(request: Request, response: Response): void {
  response.setHeader("Connection", "close");
  response.once("finish", () => {
    request.resume();
    const socket = request.socket;
    setTimeout(() => socket?.destroy(), DRAIN_MS).unref();
  });
}

/**
 * POST /v1/queues/NAME/upload: a CSV, NDJSON or plain-text file (raw body or the `file` part of
 * multipart/form-data) published as one message per row while it streams in, with ids
 * `<upload id>:<line>`. Answers once every row is confirmed, or at the first row that is bad or not
 * confirmed with the line to resume from; nothing counted in `accepted` was left unconfirmed.
 */
export function uploadRoute(options: UploadRouteOptions): RequestHandler {
  const { client, metrics, logger } = options;
  return async (request, response) => {
    let uploadId: string;
    let fromLine: number;
    const stopped = (status: number, error: string, line: number, accepted: number) => {
      if (!request.complete) abandonBody(request, response);
      response.status(status).json({ error, line, accepted, uploadId });
    };
    try {
      uploadId = uploadIdOf(request);
      fromLine = fromLineOf(request);
    } catch (error) {
      if (!(error instanceof UploadInputError)) throw error;
      if (!request.complete) abandonBody(request, response);
      response.status(error.status).json({ error: error.message });
      return;
    }

    const type = mediaType(request.get("content-type"));
    const rawFormat = formatOfMediaType(type);
    if (!rawFormat && type !== "multipart/form-data") {
      stopped(415, `Content-Type ${type || "(none)"} is not one of ${UPLOAD_MEDIA_TYPES.join(", ")}`, fromLine, 0);
      return;
    }
    const declared = Number(request.get("content-length") ?? 0);
    if (rawFormat && declared > options.maxUploadBytes) {
      stopped(413, `the upload is larger than MAX_UPLOAD_BYTES (${options.maxUploadBytes} bytes)`, fromLine, 0);
      return;
    }

    let queue: string;
    try {
      queue = await options.resolveQueue(request);
    } catch (error) {
      if (error instanceof QueueOperationError && error.kind === "unavailable") {
        stopped(503, error.message, fromLine, 0);
        return;
      }
      if (!request.complete) abandonBody(request, response);
      throw error;
    }

    const tally: RowTally = { lines: 0, rows: 0 };
    let stopReading = () => undefined as void;
    try {
      let source: AsyncIterable<Buffer> = request;
      let format: UploadFormat | undefined = rawFormat;
      if (!rawFormat) {
        const part = await multipartFile(request, fromLine);
        stopReading = part.stop;
        source = part.stream;
        format = part.format;
        if (!format) {
          part.stop();
          throw new UploadInputError(
            415,
            `cannot tell the format of the file part (content type ${part.mimeType}, name ${part.fileName ?? "(none)"}): use text/csv, application/x-ndjson or text/plain, or a .csv, .ndjson or .txt name`,
            fromLine,
          );
        }
      }
      const rows = readRows(
        source,
        { format: format!, uploadId, fromLine, maxRowBytes: options.maxRowBytes, limit: options.maxUploadBytes },
        tally,
      );
      const result = await publishRows(client, queue, rows, {
        ...UPLOAD_WINDOW,
        onOutcomes(outcomes) {
          let confirmed = 0;
          for (const outcome of outcomes) {
            if (outcome.ok) confirmed++;
            else metrics.countFailure(outcome.reason);
          }
          metrics.countPublished(confirmed);
        },
      });
      if (!result.ok) {
        stopReading();
        logger.warn(
          {
            queue,
            uploadId,
            accepted: result.accepted,
            line: result.line,
            reason: result.reason,
            detail: result.detail,
          },
          "upload stopped: broker did not confirm a row",
        );
        stopped(
          502,
          `${client.broker} did not confirm the row on line ${result.line} (${result.reason}: ${result.detail}); resume with fromLine=${result.line}`,
          result.line,
          result.accepted,
        );
        return;
      }
      if (tally.rows === 0) {
        stopped(400, "the file holds no rows", fromLine, 0);
        return;
      }
      logger.info({ queue, uploadId, accepted: result.accepted, lines: tally.lines }, "upload published");
      response.json({ uploadId, accepted: result.accepted, duplicates: result.duplicates, lines: tally.lines });
    } catch (error) {
      stopReading();
      const input = error instanceof StoppedOnInput ? error.input : error;
      const accepted = error instanceof StoppedOnInput ? error.accepted : 0;
      if (!(input instanceof UploadInputError)) throw input;
      const resume = Math.max(input.line, fromLine);
      stopped(
        input.status,
        input.status === 422 ? `${input.message}; resume with fromLine=${resume} once it is fixed` : input.message,
        resume,
        accepted,
      );
    }
  };
}
