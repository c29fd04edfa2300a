import { request } from "node:http";
import { crc32, gunzipSync, inflateRawSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEPTH_METRICS,
  DepthCollector,
  SourceError,
  closeServer,
  createLogger,
  createObservabilityApp,
  finishApp,
  listen,
  type DepthSource,
  type Exposition,
  type Snapshot,
} from "@queuescale/core";
import { findSamples, parseExposition } from "@queuescale/test-support/scrape";

/** A source whose next answer the test sets: a depth, or a failure. */
class ScriptedSource implements DepthSource {
  readonly broker = "rabbitmq" as const;
  readonly name = "scripted";
  next: number | Error = 0;
  async poll(): Promise<Snapshot> {
    if (this.next instanceof Error) throw this.next;
    return {
      readings: [{ broker: "rabbitmq", labels: { vhost: "/", queue: "jobs" }, depth: this.next }],
      takenAtMs: Date.now(),
    };
  }
  async close(): Promise<void> {}
}

const textOf = (exposition: Exposition) => Buffer.concat(exposition.body).toString("utf8");

function get(
  port: number,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/metrics", headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("DepthCollector serving /metrics", () => {
  const source = new ScriptedSource();
  const collector = new DepthCollector(
    [source],
    { intervalMs: 60_000, timeoutMs: 1_000 },
    createLogger("test", "silent"),
  );
  let port: number;
  let stopServer: () => Promise<void>;

  beforeAll(async () => {
    const app = finishApp(
      createObservabilityApp({
        metrics: (format) => collector.exposition(format),
        readiness: () => collector.readiness(),
      }),
    );
    const started = await listen(app, { host: "127.0.0.1", port: 0 });
    port = started.port;
    stopServer = () => closeServer(started.server);
  });
  afterAll(async () => {
    await stopServer();
    await collector.stop();
  });

  it("sends gzip to scrapers that accept it, plain text to the others, without an ETag", async () => {
    source.next = 42;
    await collector.pollAll();
    const zipped = await get(port, { "Accept-Encoding": "gzip" });
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.headers.etag).toBeUndefined();
    const plain = await get(port, {});
    expect(plain.headers["content-encoding"]).toBeUndefined();
    const text = plain.body.toString("utf8");
    expect(gunzipSync(zipped.body).toString("utf8")).toBe(text);
    expect(findSamples(parseExposition(text), DEPTH_METRICS.depth.name, { queue: "jobs" })[0]?.value).toBe(42);
  });

  it("gzips a body as one member, so clients that read only the first get all of it, and re-renders after a poll", async () => {
    const prometheusHeaders = { Accept: "application/openmetrics-text;version=1.0.0", "Accept-Encoding": "gzip" };
    for (const depth of [11, 12]) {
      source.next = depth;
      await collector.pollAll();
      const zipped = await get(port, prometheusHeaders);
      expect(zipped.headers["content-length"]).toBe(String(zipped.body.length));
      // Header, one raw deflate stream, then CRC-32 and length of the whole text (RFC 1952).
      const text = inflateRawSync(zipped.body.subarray(10, -8));
      expect(zipped.body.readUInt32LE(zipped.body.length - 8)).toBe(crc32(text));
      expect(zipped.body.readUInt32LE(zipped.body.length - 4)).toBe(text.length);
      expect(gunzipSync(zipped.body)).toEqual(text);
      const body = text.toString("utf8");
      expect(findSamples(parseExposition(body), DEPTH_METRICS.depth.name, { queue: "jobs" })[0]?.value).toBe(depth);
      expect(body.indexOf("# EOF")).toBe(body.length - "# EOF\n".length);
    }
  });

  it("answers OpenMetrics to Prometheus's Accept header and text to curl", async () => {
    const prometheusAccept =
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    const scraped = await get(port, { Accept: prometheusAccept });
    expect(scraped.headers["content-type"]).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    expect(scraped.body.toString("utf8").endsWith("# EOF\n")).toBe(true);
    const curl = await get(port, { Accept: "*/*" });
    expect(curl.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const textOnly = await get(port, { Accept: "text/plain;version=0.0.4" });
    expect(textOnly.headers["content-type"]).toMatch(/^text\/plain/);
  });

  it("shares one render between scrapes within a second, and serves a new poll at once", async () => {
    source.next = 7;
    await collector.pollAll();
    const now = Date.now();
    const first = await collector.exposition("prometheus", now);
    expect(await collector.exposition("prometheus", now + 500)).toBe(first);
    expect(await collector.exposition("prometheus", now + 1_500)).not.toBe(first);

    source.next = 8;
    await collector.pollAll();
    const afterPoll = textOf(await collector.exposition("prometheus", now + 1_600));
    expect(findSamples(parseExposition(afterPoll), DEPTH_METRICS.depth.name, { queue: "jobs" })[0]?.value).toBe(8);
  });

  it("drops the depth series at once when a poll fails", async () => {
    source.next = new SourceError("connection", "broker unreachable");
    await collector.pollAll();
    const text = textOf(await collector.exposition("prometheus"));
    expect(findSamples(parseExposition(text), DEPTH_METRICS.depth.name)).toEqual([]);
    expect(findSamples(parseExposition(text), "queuescale_source_up", { source: "scripted" })[0]?.value).toBe(0);
  });

  it("counts a raw client error with the reason its broker's adapter gives it", async () => {
    // amqplib's reply code 404, not wrapped in a SourceError: only the RabbitMQ adapter knows it.
    source.next = Object.assign(new Error("NOT_FOUND - no queue 'jobs'"), { code: 404 });
    await collector.pollAll();
    const text = textOf(await collector.exposition("prometheus"));
    const errors = findSamples(parseExposition(text), "queuescale_source_poll_errors_total", {
      source: "scripted",
      reason: "not_found",
    });
    expect(errors.map((sample) => sample.value)).toEqual([1]);
  });
});
