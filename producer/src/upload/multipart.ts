import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import busboy from "busboy";
import { UploadInputError } from "./errors.js";
import { formatOfPart, type UploadFormat } from "./format.js";

/** The `file` part of a multipart/form-data body, streaming as the request arrives. */
export interface FilePart {
  readonly stream: Readable;
  readonly format: UploadFormat | undefined;
  readonly fileName: string | undefined;
  readonly mimeType: string;
  /** Stops parsing the rest of the body (after an early answer). */
  stop(): void;
}

/**
 * Finds the part named `file` (what `curl -F file=@data.csv` sends) with busboy, which streams
 * it and stops reading the request while the part is not read. Other parts are skipped.
 */
export function multipartFile(request: IncomingMessage, firstLine: number): Promise<FilePart> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: request.headers, limits: { files: 8, fields: 32, fieldSize: 64 * 1024, parts: 64 } });
    } catch (error) {
      reject(new UploadInputError(400, `malformed multipart/form-data: ${(error as Error).message}`, firstLine));
      return;
    }
    let found = false;
    const stop = () => {
      request.unpipe(parser);
      parser.removeAllListeners("file");
    };
    parser.on("file", (name, stream, info) => {
      if (name !== "file" || found) {
        stream.resume();
        return;
      }
      found = true;
      resolve({
        stream,
        format: formatOfPart(info.mimeType, info.filename),
        fileName: info.filename,
        mimeType: info.mimeType,
        stop,
      });
    });
    // After the file part was found, errors reach its stream (and the line reader) instead.
    parser.on("error", (error: Error) => {
      if (!found) reject(new UploadInputError(400, `malformed multipart/form-data: ${error.message}`, firstLine));
    });
    parser.on("close", () => {
      if (!found) reject(new UploadInputError(400, "the multipart/form-data body has no part named file", firstLine));
    });
    request.pipe(parser);
  });
}
