import { z } from "zod";
import { SourceError } from "../../sources/types.js";

/** JetStream API error code for "no message found". */
const NO_MESSAGE_FOUND = 10037;

const messageGetResponse = z.union([
  z.object({
    message: z.object({ seq: z.number(), time: z.string() }),
  }),
  z.object({
    error: z.object({ code: z.number(), err_code: z.number().optional(), description: z.string().optional() }),
  }),
]);

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
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new SourceError("parse", "JetStream message look-up answered with something other than JSON", {
      cause: error,
    });
  }
  const parsed = messageGetResponse.safeParse(json);
  if (!parsed.success) throw new SourceError("parse", "unexpected JetStream message look-up answer");
  if ("error" in parsed.data) {
    const { code, err_code: errCode, description } = parsed.data.error;
    if (errCode === NO_MESSAGE_FOUND) return null;
    throw new SourceError(
      code === 403 ? "auth" : "unknown",
      `JetStream message look-up failed: ${description ?? "error"} (${errCode ?? code})`,
    );
  }
  const storedAtMs = Date.parse(parsed.data.message.time);
  if (!Number.isFinite(storedAtMs)) throw new SourceError("parse", "JetStream message has an unreadable time");
  return { seq: parsed.data.message.seq, storedAtMs };
}

/** The earliest of several look-ups (one per filter subject). */
export function earliestMessage(found: readonly (StoredMessageRef | null)[]): StoredMessageRef | null {
  let earliest: StoredMessageRef | null = null;
  for (const message of found) {
    if (message && (!earliest || message.seq < earliest.seq)) earliest = message;
  }
  return earliest;
}
