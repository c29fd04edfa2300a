import { createServer, type Server, type ServerResponse } from "node:http";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@queuescale/core";
import { eventually } from "@queuescale/test-support/names";
import { findSamples, scrape } from "@queuescale/test-support/scrape";
import { startExporter, type RunningExporter } from "../src/exporter.js";

const LIMIT = 1024 * 1024;
/** What a misbehaving endpoint would send if nobody stopped reading: 64 times the limit. */
const ENDLESS = 64 * LIMIT;
const CHUNK = Buffer.alloc(64 * 1024, "#");

/** What the endpoint saw of one answer. */
interface Answer {
  path: string;
  sent: number;
  /** The connection closed before the whole body was written: the reader gave up. */
  cutOff: boolean;
}

const answers: Answer[] = [];
let server: Server;
let baseUrl: string;
const running: RunningExporter[] = [];

/** Writes up to ENDLESS bytes, as fast as the reader takes them, and records where it stopped. */
async function stream(response: ServerResponse, answer: Answer): Promise<void> {
  let closed = false;
  response.on("close", () => {
    closed = true;
    answer.cutOff = !response.writableFinished;
  });
  while (answer.sent < ENDLESS && !closed) {
    answer.sent += CHUNK.length;
    if (!response.write(CHUNK)) await Promise.race([once(response, "drain"), once(response, "close")]);
  }
  if (!closed) response.end();
}

beforeAll(async () => {
  server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const answer: Answer = { path, sent: 0, cutOff: false };
    answers.push(answer);
    // `/declared/…` announces its length up front; the rest stream chunked.
    const headers: Record<string, string | number> = {
      "content-type": path.includes("/api/") || path.includes("jsz") ? "application/json" : "text/plain",
    };
    if (path.startsWith("/declared")) headers["content-length"] = ENDLESS;
    response.writeHead(200, headers);
    void stream(response, answer);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await Promise.all(running.map((exporter) => exporter.stop()));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("an endpoint that answers more than MAX_RESPONSE_BYTES", { timeout: 60_000 }, () => {
  it.each([
    [
      "prometheus, chunked",
      "prometheus",
      "",
      { RABBITMQ_SOURCE: "prometheus", RABBITMQ_PROMETHEUS_URL: "" },
      "/metrics/detailed",
    ],
    [
      "prometheus, length declared",
      "prometheus",
      "/declared",
      { RABBITMQ_SOURCE: "prometheus", RABBITMQ_PROMETHEUS_URL: "" },
      "/declared/metrics",
    ],
    ["management", "management", "", { RABBITMQ_SOURCE: "management", RABBITMQ_MANAGEMENT_URL: "" }, "/api/queues"],
    ["NATS /jsz", "jsz@", "", { NATS_MONITOR_URL: "" }, "/jsz"],
  ])(
    "%s: the poll fails with reason too_large and the stream is cut off",
    async (_what, source, prefix, brokerEnv, path) => {
      const env: Record<string, string> = {
        LISTEN_ADDRESS: "127.0.0.1:0",
        POLL_INTERVAL_SECONDS: "1",
        MAX_RESPONSE_BYTES: String(LIMIT),
      };
      for (const [key, value] of Object.entries(brokerEnv)) env[key] = value || `${baseUrl}${prefix}`;
      const exporter = await startExporter({ env }, createLogger("test", "silent"));
      running.push(exporter);
      const exporterUrl = `http://127.0.0.1:${exporter.port}`;
      const samples = await eventually(
        async () => {
          const samples = await scrape(exporterUrl);
          const tooLarge = samples.filter(
            (sample) =>
              sample.name === "queuescale_source_poll_errors_total" &&
              sample.labels.source!.startsWith(source) &&
              sample.labels.reason === "too_large",
          );
          return tooLarge.some((sample) => sample.value >= 2) ? samples : undefined;
        },
        { what: "two polls failed with reason too_large" },
      );
      expect(findSamples(samples, "queuescale_queue_depth")).toEqual([]);
      await exporter.stop();
      const seen = answers.filter((answer) => answer.path.startsWith(path));
      expect(seen.length).toBeGreaterThanOrEqual(2);
      // Every answer was abandoned by the exporter long before its end: the body was not read whole.
      for (const answer of seen) {
        await eventually(() => (answer.cutOff ? true : undefined), { what: `${answer.path} cut off` });
        expect(answer.sent).toBeLessThan(ENDLESS);
      }
    },
  );
});
