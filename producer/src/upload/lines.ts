import { UploadInputError, UploadTooLarge } from "./errors.js";

/** One physical line of the input, without its line break (LF or CRLF). */
export interface InputLine {
  /** 1-based. */
  readonly line: number;
  readonly bytes: Buffer;
}

const LF = 0x0a;
const CR = 0x0d;

function withoutCr(bytes: Buffer): Buffer {
  return bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.subarray(0, bytes.length - 1) : bytes;
}

/**
 * Splits a byte stream into lines as it arrives, holding at most one line (refused past
 * `maxLineBytes`, so a file without line breaks cannot fill memory). `limit` caps the whole input.
 * Errors of the source come out as UploadInputError at the line being read. Pulling nothing pauses
 * the source, which is the backpressure an upload relies on.
 */
export async function* readLines(
  source: AsyncIterable<Buffer | string>,
  options: { maxLineBytes: number; limit: number; onBytes?: (bytes: number) => void },
): AsyncGenerator<InputLine> {
  let line = 1;
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let total = 0;
  try {
    for await (const raw of source) {
      const chunk = typeof raw === "string" ? Buffer.from(raw) : raw;
      total += chunk.length;
      options.onBytes?.(chunk.length);
      if (total > options.limit) throw new UploadTooLarge(options.limit);
      let start = 0;
      for (let end = chunk.indexOf(LF, start); end >= 0; end = chunk.indexOf(LF, start)) {
        const piece = chunk.subarray(start, end);
        const bytes = carry.length === 0 ? piece : Buffer.concat([...carry, piece]);
        carry = [];
        carryBytes = 0;
        if (bytes.length > options.maxLineBytes + 1) throw tooLong(line, options.maxLineBytes);
        yield { line, bytes: withoutCr(bytes) };
        line++;
        start = end + 1;
      }
      if (start < chunk.length) {
        // Copied: the rest of a chunk must not pin the whole chunk while the line grows.
        const rest = Buffer.from(chunk.subarray(start));
        carry.push(rest);
        carryBytes += rest.length;
        if (carryBytes > options.maxLineBytes + 1) throw tooLong(line, options.maxLineBytes);
      }
    }
  } catch (error) {
    if (error instanceof UploadInputError) throw error;
    if (error instanceof UploadTooLarge) throw new UploadInputError(413, error.message, line);
    throw new UploadInputError(400, `cannot read the upload: ${(error as Error).message}`, line);
  }
  if (carryBytes > 0) yield { line, bytes: withoutCr(Buffer.concat(carry)) };
}

function tooLong(line: number, max: number): UploadInputError {
  return new UploadInputError(422, `line ${line} is longer than the ${max}-byte row limit (MAX_BODY_BYTES)`, line);
}

/** Whether a line holds nothing but spaces and tabs (skipped between rows). */
export function isBlank(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte !== 0x20 && byte !== 0x09) return false;
  return true;
}
