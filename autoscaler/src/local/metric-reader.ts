import { IDENTITY_LABELS } from "@queuescale/core";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { selectorMatches, selectorToPromQL, type LabelSelector } from "./selector.js";

/** Reads the total of an External metric, as the HPA receives it from the external metrics API. */
export interface ExternalMetricReader {
  /** The total, or null when nothing answered or no series matched (the HPA then holds). */
  read(metricName: string, selector: LabelSelector | undefined): Promise<number | null>;
  readonly description: string;
}

/** Labels a scraper adds about the reporter, not the queue; never part of a series' identity. */
const REPORTER_LABELS = new Set(["instance", "job", "pod", "namespace", "container", "service"]);

interface ParsedFamily {
  name: string;
  metrics: { value?: string; labels?: Record<string, string> }[];
}

/**
 * Scrapes `/metrics` of the exporter (and of workers, which publish the same series) directly.
 * Like the adapter rules: the largest value per series over all reporters (`max by`), then the
 * sum over the series the selector matches (the HPA sums the items of an External metric).
 */
export class ScrapeReader implements ExternalMetricReader {
  constructor(
    private readonly urls: () => readonly string[],
    private readonly timeoutMs = 2_000,
  ) {}

  get description(): string {
    return `scrape ${this.urls().join(", ")}`;
  }

  async read(metricName: string, selector: LabelSelector | undefined): Promise<number | null> {
    const perSeries = new Map<string, number>();
    let answered = 0;
    await Promise.all(
      this.urls().map(async (url) => {
        let text: string;
        try {
          const response = await fetch(url, {
            headers: { Accept: "text/plain" },
            signal: AbortSignal.timeout(this.timeoutMs),
          });
          if (!response.ok) return;
          text = await response.text();
        } catch {
          return;
        }
        answered++;
        const families = parsePrometheusTextFormat(text) as ParsedFamily[];
        for (const family of families) {
          if (family.name !== metricName) continue;
          for (const metric of family.metrics) {
            const labels = metric.labels ?? {};
            const value = Number(metric.value);
            if (!Number.isFinite(value) || !selectorMatches(selector, labels)) continue;
            const identity = JSON.stringify(
              Object.entries(labels)
                .filter(([key]) => !REPORTER_LABELS.has(key))
                .sort(([a], [b]) => (a < b ? -1 : 1)),
            );
            perSeries.set(identity, Math.max(perSeries.get(identity) ?? -Infinity, value));
          }
        }
      }),
    );
    if (answered === 0 || perSeries.size === 0) return null;
    let total = 0;
    for (const value of perSeries.values()) total += value;
    return total;
  }
}

/** Identity labels of the contract's depth series: one series per queue or consumer. */
const IDENTITY = ["broker", ...Object.values(IDENTITY_LABELS).flat()].join(", ");

/** Asks a Prometheus server the adapter's question: the sum over queues of the max over reporters. */
export class PrometheusReader implements ExternalMetricReader {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 5_000,
  ) {}

  get description(): string {
    return `prometheus ${this.baseUrl}`;
  }

  query(metricName: string, selector: LabelSelector | undefined): string {
    return `sum(max by (${IDENTITY}) (${metricName}{${selectorToPromQL(selector)}}))`;
  }

  async read(metricName: string, selector: LabelSelector | undefined): Promise<number | null> {
    const url = new URL("/api/v1/query", this.baseUrl);
    url.searchParams.set("query", this.query(metricName, selector));
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
      if (!response.ok) return null;
      const body = (await response.json()) as { data?: { result?: { value?: [number, string] }[] } };
      const first = body.data?.result?.[0]?.value?.[1];
      if (first === undefined) return null;
      const value = Number(first);
      return Number.isFinite(value) ? value : null;
    } catch {
      return null;
    }
  }
}
