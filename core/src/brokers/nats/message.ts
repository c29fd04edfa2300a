import { z } from "zod";
import { SourceError } from "../../sources/types.js";
import { parseApiAnswer } from "./api-answer.js";

/** JetStream API error code for "no message found". */
const NO_MESSAGE_FOUND = 10037;

const messageGetResult = z.object({ message: z.object({ seq: z.number(), time: z.string() }) });

export interface StoredMessageRef {
  readonly seq: number;
  /** Unix milliseconds when the stream stored the message. */
  readonly storedAtMs: number;
}

/**
 * Reads the answer of `$JS.API.STREAM.MSG.GET.<stream>` (as of 2.9 it accepts `seq` together with
 * `next_by_subj`: the first message at or after `seq` on that subject). Only sequence and store
 * time are kept; the payload is never decoded. `null` when no such message exists.
 */
export function parseMessageGetResponse(body: string): StoredMessageRef | null {
  const found = parseApiAnswer(body, "JetStream message look-up", messageGetResult, NO_MESSAGE_FOUND);
  if (found === null) return null;
  const storedAtMs = Date.parse(found.message.time);
  if (!Number.isFinite(storedAtMs)) throw new SourceError("parse", "JetStream message has an unreadable time");
  return { seq: found.message.seq, storedAtMs };
}

/** The earliest of several look-ups (one per filter subject). */
export function earliestMessage(found: readonly (StoredMessageRef | null)[]): StoredMessageRef | null {
  let earliest: StoredMessageRef | null = null;
  for (const message of found) {
    if (message && (!earliest || message.seq < earliest.seq)) earliest = message;
  }
  return earliest;
}
