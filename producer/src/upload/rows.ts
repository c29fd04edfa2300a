import { parse as parseCsv } from "csv-parse/sync";
import type { OutgoingMessage } from "../brokers/types.js";
import { UploadInputError } from "./errors.js";
import type { UploadFormat } from "./format.js";
import { rowMessageId } from "./ids.js";
import { isBlank, readLines, type InputLine } from "./lines.js";

/** One row of an upload, as the message it becomes. */
export interface UploadRow {
  /** The 1-based line the row starts on. */
  readonly line: number;
  readonly message: OutgoingMessage;
}

export interface RowOptions {
  readonly format: UploadFormat;
  /** Message ids are `<uploadId>:<line>`, so a retried upload repeats them. */
  readonly uploadId: string;
  /** Rows starting before this line are read (a CSV header still names the columns) but not published. */
  readonly fromLine: number;
  /** Largest row, in bytes of input and of the message made from it. */
  readonly maxRowBytes: number;
  /** Largest input. */
  readonly limit: number;
  onBytes?(bytes: number): void;
}

/** What was read, for the answer; filled in while the rows are pulled. */
export interface RowTally {
  /** Lines read so far (the last line number seen). */
  lines: number;
  /** Rows found, published or skipped before fromLine. */
  rows: number;
}

/**
 * Turns an input stream into messages, one per row, as it is read: nothing is held but the row
 * being assembled (and, for CSV, a few rows the parser has seen). A row that cannot become a
 * message throws UploadInputError(422) at its line; the rows before it have been yielded.
 */
export function readRows(
  source: AsyncIterable<Buffer | string>,
  options: RowOptions,
  tally: RowTally,
): AsyncGenerator<UploadRow> {
  const lines = countLines(
    readLines(source, { maxLineBytes: options.maxRowBytes, limit: options.limit, onBytes: options.onBytes }),
    tally,
  );
  const rows = options.format === "csv" ? csvRows(lines, options) : lineRows(lines, options);
  return publishable(rows, options, tally);
}

async function* countLines(lines: AsyncIterable<InputLine>, tally: RowTally): AsyncGenerator<InputLine> {
  for await (const line of lines) {
    tally.lines = line.line;
    yield line;
  }
}

async function* publishable(
  rows: AsyncIterable<UploadRow>,
  options: RowOptions,
  tally: RowTally,
): AsyncGenerator<UploadRow> {
  for await (const row of rows) {
    tally.rows++;
    if (row.line >= options.fromLine) yield row;
  }
}

function messageOf(options: RowOptions, line: number, body: Buffer, contentType: string): UploadRow {
  if (body.length > options.maxRowBytes) {
    throw new UploadInputError(
      422,
      `the row on line ${line} makes a ${body.length}-byte message, over the ${options.maxRowBytes}-byte row limit (MAX_BODY_BYTES)`,
      line,
    );
  }
  return { line, message: { id: rowMessageId(options.uploadId, line), body, contentType, headers: {} } };
}

/** NDJSON (each line one JSON value) and plain lines (each line's bytes unchanged). */
async function* lineRows(lines: AsyncIterable<InputLine>, options: RowOptions): AsyncGenerator<UploadRow> {
  for await (const { line, bytes } of lines) {
    if (isBlank(bytes)) continue;
    if (options.format === "lines") {
      yield messageOf(options, line, bytes, "text/plain");
      continue;
    }
    try {
      JSON.parse(bytes.toString("utf8"));
    } catch (error) {
      throw new UploadInputError(422, `line ${line} is not JSON: ${(error as Error).message}`, line);
    }
    yield messageOf(options, line, bytes, "application/json");
  }
}

/** A CSV record as the lines it spans: complete once its double quotes balance (RFC 4180). */
interface PendingRecord {
  readonly line: number;
  readonly text: string;
}

/** Records handed to the parser at once: enough to amortise a write, few enough to stay small. */
const CSV_BATCH_RECORDS = 256;

/**
 * CSV per RFC 4180: the first record is the header; each later record becomes a JSON object keyed
 * by it, values as strings. Physical lines are joined into records here (a record ends on a line
 * break outside quotes, i.e. once its count of `"` is even), which gives every record its exact
 * starting line; csv-parse parses the fields of batches of whole records.
 */
async function* csvRows(lines: AsyncIterable<InputLine>, options: RowOptions): AsyncGenerator<UploadRow> {
  const fields = new FieldParser(options.maxRowBytes);
  let header: string[] | undefined;
  let open: { line: number; parts: string[]; bytes: number; quotes: number } | undefined;
  let batch: PendingRecord[] = [];

  const parseBatch = function* (): Generator<UploadRow> {
    const { records, error } = fields.parse(batch);
    batch = [];
    for (const { line, values } of records) {
      if (!header) {
        header = checkHeader(values, line);
        continue;
      }
      if (values.length !== header.length) {
        throw new UploadInputError(
          422,
          `the row on line ${line} has ${values.length} fields; the header has ${header.length}`,
          line,
        );
      }
      const row: Record<string, string> = {};
      header.forEach((name, index) => (row[name] = values[index]!));
      yield messageOf(options, line, Buffer.from(JSON.stringify(row)), "application/json");
    }
    if (error) throw error;
  };

  for await (const { line, bytes } of lines) {
    if (!open && isBlank(bytes)) continue;
    const text = bytes.toString("utf8");
    const quotes = countQuotes(text);
    if (open) {
      open.parts.push(text);
      open.bytes += bytes.length + 1;
      open.quotes += quotes;
      if (open.bytes > options.maxRowBytes) {
        throw new UploadInputError(
          422,
          `the row starting on line ${open.line} is longer than the ${options.maxRowBytes}-byte row limit (MAX_BODY_BYTES); is a quote left open?`,
          open.line,
        );
      }
    } else {
      open = { line, parts: [text], bytes: bytes.length, quotes };
    }
    if (open.quotes % 2 === 0) {
      batch.push({ line: open.line, text: open.parts.join("\n") });
      open = undefined;
      // The header goes through alone so its line count is known before any row.
      if (batch.length >= CSV_BATCH_RECORDS || !header) yield* parseBatch();
    }
  }
  if (batch.length > 0) yield* parseBatch();
  if (open) {
    throw new UploadInputError(
      422,
      `the row starting on line ${open.line} has a quote that is never closed`,
      open.line,
    );
  }
}

function countQuotes(text: string): number {
  let count = 0;
  for (let index = text.indexOf('"'); index >= 0; index = text.indexOf('"', index + 1)) count++;
  return count;
}

function checkHeader(values: string[], line: number): string[] {
  const seen = new Set<string>();
  for (const name of values) {
    if (name.trim() === "")
      throw new UploadInputError(422, `the CSV header on line ${line} has an empty column name`, line);
    if (seen.has(name))
      throw new UploadInputError(422, `the CSV header on line ${line} repeats the column ${name}`, line);
    seen.add(name);
  }
  return values;
}

/**
 * csv-parse over batches of whole records, each batch parsed to its end (a stream parser holds the
 * last record back until more text comes), so record k of a batch is the k-th record out and a
 * parse error belongs to the first record that did not come out.
 */
class FieldParser {
  private first = true;

  constructor(private readonly maxRowBytes: number) {}

  /** The records parsed, in order, and the error of the first one that could not be. */
  parse(records: readonly PendingRecord[]): {
    records: { line: number; values: string[] }[];
    error?: UploadInputError;
  } {
    const out: string[][] = [];
    let failure: Error | undefined;
    try {
      parseCsv(records.map((record) => `${record.text}\n`).join(""), {
        bom: this.first,
        max_record_size: this.maxRowBytes,
        record_delimiter: "\n",
        relax_column_count: true,
        // Collected here, so the records before a failing one are kept.
        on_record: (record: string[]) => {
          out.push(record);
          return undefined;
        },
      });
    } catch (error) {
      failure = error as Error;
    }
    this.first = false;
    const parsed = out.map((values, index) => ({ line: records[index]!.line, values }));
    if (!failure && parsed.length === records.length) return { records: parsed };
    const badIndex = Math.min(parsed.length, records.length - 1);
    const bad = records[badIndex]!;
    // csv-parse counts lines of what it was given, not of the file: the line is ours.
    const reason = failure ? failure.message.replace(/ (at|on) line \d+.*$/s, "") : "not one CSV record";
    return {
      records: parsed.slice(0, badIndex),
      error: new UploadInputError(422, `the row on line ${bad.line} is not valid CSV: ${reason}`, bad.line),
    };
  }
}
