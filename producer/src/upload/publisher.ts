import type { BrokerClient, PublishFailureReason, PublishOutcome } from "../brokers/types.js";
import type { UploadRow } from "./rows.js";

export interface WindowOptions {
  /** Rows per publish call. */
  readonly windowRows: number;
  /** A window closes early once its bodies add up to this many bytes. */
  readonly windowBytes: number;
  /** Windows sent and not yet confirmed; reading waits while this many are out. */
  readonly windowsInFlight: number;
  /** Every outcome the broker reported, for metrics (including those past a failure). */
  onOutcomes?(outcomes: readonly PublishOutcome[]): void;
}

/** Window sizes: a few hundred rows keep confirms pipelined; four windows keep the broker busy. */
export const UPLOAD_WINDOW = { windowRows: 500, windowBytes: 1_048_576, windowsInFlight: 4 } as const;

export type UploadResult =
  | { readonly ok: true; readonly accepted: number; readonly duplicates: number }
  | {
      readonly ok: false;
      /** Rows before `line`, all confirmed. */
      readonly accepted: number;
      readonly duplicates: number;
      /** The row the broker did not confirm (the first one, in file order). */
      readonly line: number;
      readonly reason: PublishFailureReason;
      readonly detail: string;
    };

/** Thrown by the rows (bad input) after the windows before it were settled; carries the count. */
export class StoppedOnInput extends Error {
  constructor(
    readonly input: unknown,
    readonly accepted: number,
    readonly duplicates: number,
  ) {
    super("the upload stopped on its input", { cause: input });
    this.name = "StoppedOnInput";
  }
}

interface Window {
  readonly lines: number[];
  readonly outcomes: Promise<PublishOutcome[]>;
}

/**
 * Publishes rows in windows as they are read, with at most `windowsInFlight` windows waiting for
 * confirms; while that many are out no row is read, so a slow broker slows the reader (and the
 * socket behind it) and memory stays at a few windows. `accepted` counts the confirmed rows before
 * the first one that was not: a row after it may be stored too (it was sent already) and comes again
 * with the same id on a resume, which JetStream de-duplicates.
 */
export async function publishRows(
  client: BrokerClient,
  queue: string,
  rows: AsyncIterable<UploadRow>,
  options: WindowOptions,
): Promise<UploadResult> {
  const out: Window[] = [];
  let accepted = 0;
  let duplicates = 0;
  let failure: { line: number; reason: PublishFailureReason; detail: string } | undefined;

  // One session for the whole upload: its windows stay in file order in the queue.
  const session = client.openSession(queue);
  const send = (window: UploadRow[]) => {
    out.push({
      lines: window.map((row) => row.line),
      // Counted as soon as the broker answers, not when the window's turn comes to be settled.
      outcomes: session.publish(window.map((row) => row.message)).then((outcomes) => {
        options.onOutcomes?.(outcomes);
        return outcomes;
      }),
    });
  };
  const settleOldest = async () => {
    const window = out.shift()!;
    const outcomes = await window.outcomes;
    outcomes.forEach((outcome, index) => {
      if (failure) return;
      if (outcome.ok) {
        accepted++;
        if (outcome.duplicate) duplicates++;
      } else {
        failure = { line: window.lines[index]!, reason: outcome.reason, detail: outcome.detail };
      }
    });
  };

  let inputError: unknown;
  let window: UploadRow[] = [];
  let windowBytes = 0;
  try {
    for await (const row of rows) {
      window.push(row);
      windowBytes += row.message.body.length;
      if (window.length < options.windowRows && windowBytes < options.windowBytes) continue;
      send(window);
      window = [];
      windowBytes = 0;
      while (out.length >= options.windowsInFlight) await settleOldest();
      // Leaving the loop stops the reader: nothing after a failed row is read or sent.
      if (failure) break;
    }
  } catch (error) {
    inputError = error;
  }
  // The rows read before a bad one are published too: exactly the rows before it end up stored.
  if (!failure && window.length > 0) send(window);
  // Every window sent is settled before answering, so no confirm arrives after the answer.
  while (out.length > 0) await settleOldest();
  session.close();
  if (failure) return { ok: false, accepted, duplicates, ...failure };
  if (inputError !== undefined) throw new StoppedOnInput(inputError, accepted, duplicates);
  return { ok: true, accepted, duplicates };
}
