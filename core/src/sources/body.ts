import { isAscii } from "node:buffer";
import type { Range } from "../config.js";
import { SourceError } from "./types.js";

/**
 * How much of one broker HTTP answer is read before the poll fails (MAX_RESPONSE_BYTES). A
 * 10,000-queue `/metrics/detailed` answer is about 5 MB, so the default leaves room for far more
 * than 50,000 queues; a misbehaving endpoint that streams without end is cut off here instead of
 * growing the exporter's memory until it is killed.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/**
 * 1 MiB to 500 MiB: below, a large broker's answer no longer fits; much above, the text cannot be
 * one JavaScript string (V8 stops at 2^29 - 24 characters).
 */
export const MAX_RESPONSE_BYTES_RANGE: Range = { min: 1024 * 1024, max: 500 * 1024 * 1024 };

/**
 * Reads a response body, at most `maxBytes` of it (after content decoding, so a compressed
 * answer cannot expand past it either). A larger body, or a declared length past the limit (the
 * length of a body without content encoding), is a `too_large` failure before it is read further;
 * the caller then drops the connection rather than read the rest. `body` is the response, or the
 * decompressor it is piped through.
 */
export async function readCappedBytes(
  body: AsyncIterable<Buffer>,
  maxBytes: number,
  where: string,
  declaredBytes = NaN,
): Promise<Buffer> {
  const tooLarge = () =>
    new SourceError("too_large", `${where} answered more than ${maxBytes} bytes (MAX_RESPONSE_BYTES)`);
  if (declaredBytes > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

const utf8 = new TextDecoder();

/**
 * A broker's answer as text. The answers are JSON or the exposition format with names that are
 * almost always ASCII, and for ASCII bytes a Latin-1 copy is the same text as a UTF-8 decode: the
 * copy is what is made then, because Node 20's UTF-8 decode of a 5 MB answer (`/jsz` at 10,000
 * consumers) took 17 ms of a poll whose parsing takes 8. Anything else is decoded as UTF-8, with
 * U+FFFD for bytes that are not.
 */
export function decodeAnswer(bytes: Uint8Array): string {
  const buffer = asBuffer(bytes);
  return textEncoding(buffer) === "latin1" ? buffer.toString("latin1") : utf8.decode(buffer);
}

/** The encoding decodeAnswer reads an answer's bytes in, for parsers that decode parts of them. */
export function textEncoding(bytes: Buffer): "latin1" | "utf8" {
  return isAscii(bytes) ? "latin1" : "utf8";
}

/** The same bytes as a Buffer, without a copy (a NATS message's data is a plain Uint8Array). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
