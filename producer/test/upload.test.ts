import { randomUUID } from "node:crypto";
import { PassThrough } from "node:stream";
import { stringify } from "csv-stringify/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "@queuescale/test-support/names";
import { findSamples, scrape } from "@queuescale/test-support/scrape";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import {
  HARNESSED_BROKERS,
  harnessOf,
  type ProducerTarget,
  type StoredMessage,
} from "@queuescale/test-support/brokers";
import { startTestProducer, type TestProducer } from "./support/producer.js";
import { multipartBody, upload } from "./support/upload.js";

type Row = Record<string, string>;

/**
 * A CSV file written by csv-stringify (not by the code under test) and the line each row starts
 * on, counted from the text itself.
 */
function csvFile(header: string[], rows: Row[]): { text: string; lines: number[] } {
  let text = stringify([header]);
  const lines: number[] = [];
  for (const row of rows) {
    lines.push(text.split("\n").length);
    text += stringify([header.map((name) => row[name]!)]);
  }
  return { text, lines };
}

function ids(stored: StoredMessage[]): string[] {
  return stored.map((message) => message.id!);
}

function lineIds(uploadId: string, lines: number[]): string[] {
  return lines.map((line) => `${uploadId}:${line}`);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

async function publishedSoFar(producer: TestProducer): Promise<number> {
  const samples = findSamples(await scrape(producer.url), "queuescale_producer_messages_published_total");
  return samples.reduce((sum, sample) => sum + sample.value, 0);
}

describe.each(HARNESSED_BROKERS)("upload on %s", (brokerName) => {
  let harness: ProducerTarget;
  let producer: TestProducer;

  beforeAll(async () => {
    harness = await harnessOf(brokerName).producerTarget();
    producer = await startTestProducer({ ...harness.settings(), MAX_BODY_BYTES: "4096" });
  });

  afterAll(async () => {
    await producer?.stop();
    await harness?.cleanup();
  });

  it("publishes each CSV row as a JSON object keyed by the header, quoted fields with commas and line breaks included", async () => {
    const queue = await harness.createQueue();
    const header = ["order", "note", "amount"];
    const rows: Row[] = Array.from({ length: 1203 }, (_, index) => ({
      order: `o-${index}`,
      note:
        index % 3 === 0 ? `line one\nline two of ${index}` : index % 3 === 1 ? `with, a comma and "quotes"` : "plain",
      amount: String(index * 7),
    }));
    const { text, lines } = csvFile(header, rows);
    const answer = await upload(producer.url, queue, {
      body: text,
      contentType: "text/csv; charset=utf-8",
      headers: { "idempotency-key": "csv-upload-1" },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ uploadId: "csv-upload-1", accepted: rows.length });
    expect(answer.body.lines).toBe(text.split("\n").length - 1);
    const stored = await harness.drain(queue, rows.length);
    expect(stored.map((message) => JSON.parse(message.body) as Row)).toEqual(rows);
    expect(ids(stored)).toEqual(lineIds("csv-upload-1", lines));
    expect(stored.every((message) => message.contentType === "application/json" && message.persistent)).toBe(true);
  });

  it("skips blank lines and reads CRLF line ends, numbering lines as the file does", async () => {
    const queue = await harness.createQueue();
    const text = 'id,name\r\n1,a\r\n\r\n2,"b\r\nc"\r\n   \r\n3,d';
    const answer = await upload(producer.url, queue, { body: text, contentType: "text/csv" });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ accepted: 3, lines: 7 });
    const stored = await harness.drain(queue, 3);
    expect(stored.map((message) => JSON.parse(message.body) as Row)).toEqual([
      { id: "1", name: "a" },
      { id: "2", name: "b\nc" },
      { id: "3", name: "d" },
    ]);
    expect(ids(stored)).toEqual(lineIds(answer.body.uploadId as string, [2, 4, 7]));
  });

  it("publishes NDJSON lines as JSON messages and text/plain lines unchanged", async () => {
    const values = [{ a: 1 }, "two", [3], null, 5.5];
    const ndjsonQueue = await harness.createQueue();
    const ndjson = await upload(producer.url, ndjsonQueue, {
      body: `${values.map((value) => JSON.stringify(value)).join("\n")}\n`,
      contentType: "application/x-ndjson",
    });
    expect(ndjson.status, JSON.stringify(ndjson.body)).toBe(200);
    expect(ndjson.body).toMatchObject({ accepted: values.length, lines: values.length });
    const storedJson = await harness.drain(ndjsonQueue, values.length);
    expect(storedJson.map((message) => JSON.parse(message.body) as unknown)).toEqual(values);
    expect(ids(storedJson)).toEqual(lineIds(ndjson.body.uploadId as string, range(1, values.length)));

    const lines = ["first line", "  indented, with comma", 'a "quoted" word', "{not json"];
    const textQueue = await harness.createQueue();
    const plain = await upload(producer.url, textQueue, {
      body: `${lines[0]}\n\n${lines.slice(1).join("\n")}`,
      contentType: "text/plain",
    });
    expect(plain.status, JSON.stringify(plain.body)).toBe(200);
    expect(plain.body).toMatchObject({ accepted: lines.length, lines: lines.length + 1 });
    const storedText = await harness.drain(textQueue, lines.length);
    expect(storedText.map((message) => message.body)).toEqual(lines);
    expect(ids(storedText)).toEqual(lineIds(plain.body.uploadId as string, [1, 3, 4, 5]));
  });

  it("takes the file part of multipart/form-data, its format from the file name or the part's type", async () => {
    const queue = await harness.createQueue();
    const rows: Row[] = [
      { city: "Lyon", note: "a, b" },
      { city: "Kyiv", note: "x\ny" },
    ];
    const { text } = csvFile(["city", "note"], rows);
    // curl -F file=@data.csv sends application/octet-stream: the extension decides.
    const csv = await multipartBody("data.csv", text, "application/octet-stream", { comment: "ignored" });
    const answer = await upload(producer.url, queue, csv);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.accepted).toBe(rows.length);
    expect((await harness.drain(queue, rows.length)).map((message) => JSON.parse(message.body) as Row)).toEqual(rows);

    const ndjson = await multipartBody("export", '{"n":1}\n{"n":2}\n', "application/x-ndjson");
    const second = await upload(producer.url, queue, ndjson);
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect((await harness.drain(queue, 2)).map((message) => JSON.parse(message.body) as unknown)).toEqual([
      { n: 1 },
      { n: 2 },
    ]);

    const unknown = await multipartBody("data.bin", "1\n2\n");
    const refused = await upload(producer.url, queue, unknown);
    expect(refused.status).toBe(415);
    expect(refused.body).toMatchObject({ accepted: 0, line: 1 });
    const noFile = await upload(
      producer.url,
      queue,
      await multipartBody("x.csv", "a\n1\n", "text/csv").then((form) => ({
        ...form,
        body: Buffer.from(form.body.toString("latin1").replace('name="file"', 'name="other"'), "latin1"),
      })),
    );
    expect(noFile.status).toBe(400);
    expect(noFile.body.error).toContain("file");
    expect(await harness.count(queue)).toBe(0);
  });

  it("stops at a bad row with exactly the rows before it stored; resuming from its line completes the file", async () => {
    const queue = await harness.createQueue();
    const uploadId = `resume-${randomUUID()}`;
    // The bad line lies past the first windows, so several windows were published before it.
    const total = 2600;
    const badLine = 1234;
    const good = range(1, total).map((line) => JSON.stringify({ line }));
    const broken = good.map((text, index) => (index + 1 === badLine ? "{oops" : text));
    const first = await upload(producer.url, queue, {
      body: broken.join("\n"),
      contentType: "application/x-ndjson",
      headers: { "idempotency-key": uploadId },
    });
    expect(first.status).toBe(422);
    expect(first.body).toMatchObject({ line: badLine, accepted: badLine - 1, uploadId });
    expect(first.body.error).toContain(`line ${badLine}`);
    expect(await harness.count(queue)).toBe(badLine - 1);

    const resumed = await upload(producer.url, queue, {
      body: good.join("\n"),
      contentType: "application/x-ndjson",
      headers: { "idempotency-key": uploadId },
      query: `fromLine=${first.body.line as number}`,
    });
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body).toMatchObject({ accepted: total - badLine + 1, lines: total });
    const stored = await harness.drain(queue, total);
    expect(ids(stored)).toEqual(lineIds(uploadId, range(1, total)));
    expect(stored.map((message) => (JSON.parse(message.body) as { line: number }).line)).toEqual(range(1, total));
  });

  it("stops at a CSV row with the wrong number of fields, naming its line", async () => {
    const queue = await harness.createQueue();
    const rows: Row[] = range(1, 40).map((index) => ({ a: String(index), b: `v\n${index}` }));
    const { text, lines } = csvFile(["a", "b"], rows);
    const at = 25;
    const textLines = text.split("\n");
    // Row `at` starts on lines[at]; it loses its second field.
    textLines.splice(lines[at]! - 1, 2, `${rows[at]!.a}`);
    const answer = await upload(producer.url, queue, { body: textLines.join("\n"), contentType: "text/csv" });
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ line: lines[at], accepted: at });
    expect(answer.body.error).toContain("fields");
    expect((await harness.drain(queue, at)).map((message) => JSON.parse(message.body) as Row)).toEqual(
      rows.slice(0, at),
    );
  });

  it("refuses a row over the row limit (MAX_BODY_BYTES) at its line", async () => {
    const queue = await harness.createQueue();
    const lines = ["short", "x".repeat(5000), "after"];
    const answer = await upload(producer.url, queue, { body: lines.join("\n"), contentType: "text/plain" });
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ line: 2, accepted: 1 });
    expect(answer.body.error).toContain("MAX_BODY_BYTES");
    expect(await harness.count(queue)).toBe(1);
  });

  it("refuses a content type it cannot read (415) and an empty file (400), publishing nothing", async () => {
    const queue = await harness.createQueue();
    const wrong = await upload(producer.url, queue, { body: '{"body": 1}', contentType: "application/json" });
    expect(wrong.status).toBe(415);
    expect(wrong.body).toMatchObject({ accepted: 0, line: 1 });
    expect(wrong.body.error).toContain("application/json");
    for (const [body, contentType] of [
      ["", "text/csv"],
      ["order,amount\n", "text/csv"],
      ["\n\n", "application/x-ndjson"],
      ["", "text/plain"],
    ]) {
      const empty = await upload(producer.url, queue, { body: body!, contentType });
      expect(empty.status, `${contentType} ${JSON.stringify(body)}`).toBe(400);
      expect(empty.body).toMatchObject({ accepted: 0, error: "the file holds no rows" });
    }
    const missing = await upload(producer.url, harness.missingQueue(), { body: "a\n", contentType: "text/plain" });
    expect(missing.status).toBe(404);
    const badKey = await upload(producer.url, queue, {
      body: "a\n",
      contentType: "text/plain",
      headers: { "idempotency-key": "has space" },
    });
    expect(badKey.status).toBe(400);
    const badFrom = await upload(producer.url, queue, { body: "a\n", contentType: "text/plain", query: "fromLine=0" });
    expect(badFrom.status).toBe(400);
    expect(await harness.count(queue)).toBe(0);
  });

  it("gives a retried upload the same message ids", async () => {
    const queue = await harness.createQueue();
    const { text, lines } = csvFile(
      ["n"],
      range(1, 700).map((n) => ({ n: String(n) })),
    );
    const key = `retry-${randomUUID()}`;
    const send = () =>
      upload(producer.url, queue, { body: text, contentType: "text/csv", headers: { "idempotency-key": key } });
    const first = await send();
    const second = await send();
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.accepted).toBe(lines.length);
    if (brokerName === "nats") {
      // JetStream's duplicate window drops the second copy of every id.
      expect(second.body.duplicates).toBe(lines.length);
      expect(await harness.count(queue)).toBe(lines.length);
      expect(ids(await harness.drain(queue, lines.length))).toEqual(lineIds(key, lines));
    } else {
      // RabbitMQ stores both copies; workers see the same message id twice.
      expect(await harness.count(queue)).toBe(2 * lines.length);
      const stored = ids(await harness.drain(queue, 2 * lines.length));
      expect(stored).toEqual([...lineIds(key, lines), ...lineIds(key, lines)]);
    }
  });

  describe("with a small MAX_UPLOAD_BYTES", () => {
    let small: TestProducer;
    const limit = 8192;

    beforeAll(async () => {
      small = await startTestProducer({ ...harness.settings(), MAX_UPLOAD_BYTES: String(limit) });
    });

    afterAll(async () => {
      await small?.stop();
    });

    it("answers 413 at once for a declared length over the limit, and at the line it reached for a streamed body", async () => {
      const queue = await harness.createQueue();
      const lines = range(1, 2000).map((line) => JSON.stringify({ line }));
      const declared = await upload(small.url, queue, { body: lines.join("\n"), contentType: "application/x-ndjson" });
      expect(declared.status).toBe(413);
      expect(declared.body).toMatchObject({ accepted: 0, line: 1 });
      expect(declared.body.error).toContain("MAX_UPLOAD_BYTES");
      expect(typeof declared.body.uploadId).toBe("string");
      expect(await harness.count(queue)).toBe(0);

      // Streamed in pieces without a length: the rows read before the limit are published.
      const stream = new PassThrough();
      const key = `big-${randomUUID()}`;
      const answering = upload(small.url, queue, {
        body: stream,
        contentType: "application/x-ndjson",
        headers: { "idempotency-key": key },
      });
      // Paced, so the first pieces arrive on their own rather than in one read past the limit.
      for (let start = 0; start < lines.length; start += 100) {
        stream.write(`${lines.slice(start, start + 100).join("\n")}\n`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      stream.end();
      const streamed = await answering;
      expect(streamed.status).toBe(413);
      expect(streamed.body.accepted).toBeGreaterThan(0);
      expect(streamed.body.line).toBe(streamed.body.accepted + 1);
      expect(await harness.count(queue)).toBe(streamed.body.accepted);

      // The rest goes through a producer that takes it, from the line given.
      const rest = await upload(producer.url, queue, {
        body: lines.join("\n"),
        contentType: "application/x-ndjson",
        headers: { "idempotency-key": key },
        query: `fromLine=${streamed.body.line as number}`,
      });
      expect(rest.status).toBe(200);
      expect(ids(await harness.drain(queue, lines.length))).toEqual(lineIds(key, range(1, lines.length)));
    });
  });

  describe("behind a proxy that is cut mid-upload", () => {
    let proxy: TcpProxy;
    let cutProducer: TestProducer;

    beforeAll(async () => {
      proxy = new TcpProxy(harness.brokerPort);
      await proxy.start();
      cutProducer = await startTestProducer({ ...harness.settings(proxy.port), PUBLISH_TIMEOUT_SECONDS: "3" });
    });

    afterAll(async () => {
      await cutProducer?.stop();
      await proxy?.close();
    });

    it("answers 502 with the line to resume from, and accepted equals what the queue holds", async () => {
      const queue = await harness.createQueue();
      const key = `cut-${randomUUID()}`;
      const lines = range(1, 3000).map((line) => JSON.stringify({ line }));
      const before = await publishedSoFar(cutProducer);
      const stream = new PassThrough();
      const answering = upload(cutProducer.url, queue, {
        body: stream,
        contentType: "application/x-ndjson",
        headers: { "idempotency-key": key },
      });
      // Two full windows go out and are confirmed while the body is still open...
      const sent = 1000;
      stream.write(`${lines.slice(0, sent).join("\n")}\n`);
      await eventually(async () => ((await publishedSoFar(cutProducer)) - before >= sent ? true : undefined), {
        what: "the first rows to be confirmed",
      });
      // ...then the broker goes away and the rest of the file arrives.
      await proxy.cut();
      await eventually(async () => ((await cutProducer.request("GET", "/readyz")).status === 503 ? true : undefined), {
        what: "the producer to see the cut",
      });
      stream.end(lines.slice(sent).join("\n"));
      const answer = await answering;
      expect([502, 503]).toContain(answer.status);
      expect(answer.body).toMatchObject({ uploadId: key, accepted: sent, line: sent + 1 });
      await proxy.restore();
      await eventually(async () => ((await cutProducer.request("GET", "/readyz")).status === 200 ? true : undefined), {
        what: "the producer to reconnect",
      });
      expect(await harness.count(queue)).toBe(answer.body.accepted);

      const resumed = await upload(cutProducer.url, queue, {
        body: lines.join("\n"),
        contentType: "application/x-ndjson",
        headers: { "idempotency-key": key },
        query: `fromLine=${answer.body.line as number}`,
      });
      expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
      expect(ids(await harness.drain(queue, lines.length))).toEqual(lineIds(key, range(1, lines.length)));
    });
  });
});
