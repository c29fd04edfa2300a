import { z } from "zod";
import { SourceError } from "../../sources/types.js";
import { parseApiAnswer } from "./api-answer.js";
import { isConsumerState, type ConsumerState } from "./consumer.js";

/** JetStream API error code: the stream is gone (deleted between listing and asking). */
const STREAM_NOT_FOUND = 10059;

/** The subject that lists a stream's consumers, a page per request. */
export function consumerListSubject(stream: string): string {
  return `$JS.API.CONSUMER.LIST.${stream}`;
}

/** Consumer entries are checked by isConsumerState, one by one. */
const consumerListResult = z.object({
  total: z.number().int().nonnegative(),
  limit: z.number().int().positive(),
  consumers: z.array(z.unknown()).nullish(),
});

/** One page of a stream's consumers. */
export interface ConsumerListPage {
  /** Consumers the stream has in all. */
  readonly total: number;
  /** The most consumers a page holds. */
  readonly limit: number;
  readonly consumers: readonly ConsumerState[];
}

/**
 * Reads the answer of `$JS.API.CONSUMER.LIST.<stream>` (one page, from the `offset` asked for);
 * null when the stream no longer exists, as when it was deleted after the stream list was read.
 */
export function parseConsumerListPage(body: string): ConsumerListPage | null {
  const page = parseApiAnswer(body, "JetStream consumer list", consumerListResult, STREAM_NOT_FOUND);
  if (page === null) return null;
  const consumers = page.consumers ?? [];
  for (const consumer of consumers) {
    if (!isConsumerState(consumer))
      throw new SourceError("parse", "unexpected consumer entry in JetStream consumer list");
  }
  return { total: page.total, limit: page.limit, consumers: consumers as ConsumerState[] };
}

/**
 * The offsets of the pages after the first. The first page says how many there are, so the rest
 * can be asked for at once: a stream of thousands of consumers is tens of pages, and reading them
 * one after the other made a poll twice as slow as the server's own `/jsz`.
 */
export function remainingPageOffsets(first: ConsumerListPage): number[] {
  const offsets: number[] = [];
  for (let offset = first.consumers.length; offset < first.total; offset += first.limit) offsets.push(offset);
  return offsets;
}

/**
 * The consumers of a stream's pages, each once. Consumers are listed by name, so one created
 * between two page requests shifts the later pages by one and a name can show up twice.
 */
export function joinConsumerPages(pages: readonly ConsumerListPage[]): ConsumerState[] {
  const seen = new Set<string>();
  const consumers: ConsumerState[] = [];
  for (const page of pages) {
    for (const consumer of page.consumers) {
      if (seen.has(consumer.name)) continue;
      seen.add(consumer.name);
      consumers.push(consumer);
    }
  }
  return consumers;
}
