/**
 * The scrape load a Prometheus set-up puts on one exporter: an HA pair of Prometheus servers, each
 * scraping every 15 s (at offsets of their own), plus a direct reader at the HPA's 15 s sync period
 * asking for the plain text format without compression, while the exporter polls on its own
 * interval. Each request is timed to its first and last body byte; the body is read and dropped,
 * neither decompressed nor parsed, so the figures are the server's and not the client's. The
 * exporter's CPU is read from /proc around each request (per thread, in nanoseconds).
 */
import { request } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import { quantile } from "@queuescale/core";
import { threadCpuSeconds } from "../../loadtest/bench/proc.js";

/** What Prometheus 3 sends with a scrape (its default Accept list, gzip, the timeout header). */
export const PROMETHEUS_HEADERS = {
  accept:
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4," +
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
  "accept-encoding": "gzip",
  "user-agent": "Prometheus/3.5.0",
  "x-prometheus-scrape-timeout-seconds": "10",
} as const;

/** A direct reader: the text format, uncompressed. */
export const PLAIN_HEADERS = { accept: "text/plain", "user-agent": "bench-direct-reader" } as const;

export interface TimedResponse {
  firstByteMs: number;
  lastByteMs: number;
  /** Bytes on the wire (compressed when the server compressed). */
  bytes: number;
}

/** One GET, timed to the first and the last byte of the body, which is dropped as it arrives. */
export function timedGet(url: string, headers: Record<string, string>): Promise<TimedResponse> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(url, { headers, agent: false }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`${url} answered ${response.statusCode}`));
        return;
      }
      let firstByteMs: number | undefined;
      let bytes = 0;
      response.on("data", (chunk: Buffer) => {
        firstByteMs ??= performance.now() - started;
        bytes += chunk.length;
      });
      response.once("end", () =>
        resolve({ firstByteMs: firstByteMs ?? NaN, lastByteMs: performance.now() - started, bytes }),
      );
      response.once("error", reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${url} took over 30 s`)));
    req.once("error", reject);
    req.end();
  });
}

export interface ReaderFigures {
  requests: number;
  firstByte: { p50: number; p99: number };
  lastByte: { p50: number; p99: number };
  /** Exporter CPU ms from just before to just after each request (its polls may fall inside some). */
  cpuMsPerRequest: number;
  bytes: number;
}

export interface LoadFigures {
  seconds: number;
  prometheus: ReaderFigures;
  direct: ReaderFigures;
  /** Exporter CPU over the whole load (polls and requests), ms per second of wall time. */
  cpuMsPerSecond: number;
}

function figures(samples: { timing: TimedResponse; cpuMs: number }[]): ReaderFigures {
  const first = samples.map((sample) => sample.timing.firstByteMs);
  const last = samples.map((sample) => sample.timing.lastByteMs);
  return {
    requests: samples.length,
    firstByte: { p50: quantile(first, 0.5), p99: quantile(first, 0.99) },
    lastByte: { p50: quantile(last, 0.5), p99: quantile(last, 0.99) },
    cpuMsPerRequest: samples.reduce((total, sample) => total + sample.cpuMs, 0) / Math.max(1, samples.length),
    bytes: samples.at(-1)?.timing.bytes ?? NaN,
  };
}

/**
 * Runs the load for `seconds` against `metricsUrl` of the exporter process `pid`. The two
 * Prometheus servers start at random offsets within the first interval, as independent servers
 * would; the direct reader at another.
 */
export async function prometheusLikeLoad(
  metricsUrl: string,
  pid: number,
  seconds: number,
  intervalMs = 15_000,
): Promise<LoadFigures> {
  const until = performance.now() + seconds * 1000;
  const cpuAtStart = threadCpuSeconds(pid);
  const startedAt = performance.now();
  const reader = async (headers: Record<string, string>) => {
    const samples: { timing: TimedResponse; cpuMs: number }[] = [];
    let next = performance.now() + Math.random() * intervalMs;
    while (next < until) {
      await delay(Math.max(0, next - performance.now()));
      next += intervalMs;
      const cpuBefore = threadCpuSeconds(pid);
      const timing = await timedGet(metricsUrl, headers);
      samples.push({ timing, cpuMs: (threadCpuSeconds(pid) - cpuBefore) * 1000 });
    }
    return samples;
  };
  const [first, second, direct] = await Promise.all([
    reader(PROMETHEUS_HEADERS),
    reader(PROMETHEUS_HEADERS),
    reader(PLAIN_HEADERS),
  ]);
  const elapsedSeconds = (performance.now() - startedAt) / 1000;
  return {
    seconds: elapsedSeconds,
    prometheus: figures([...first, ...second]),
    direct: figures(direct),
    cpuMsPerSecond: ((threadCpuSeconds(pid) - cpuAtStart) * 1000) / elapsedSeconds,
  };
}
