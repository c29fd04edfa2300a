import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ProcessGroup } from "./processes.js";
import { freePort, httpOk, waitFor } from "./wait.js";

export const SCRAPE_INTERVAL_SECONDS = 5;

export interface ScrapeTarget {
  /** host:port of a /metrics endpoint. */
  address: string;
  /** Target labels; `namespace` is what Prometheus Adapter maps to the HPA's namespace. */
  labels: Record<string, string>;
}

interface QueryResult {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/**
 * Prometheus from PATH (Debian's package), scraping the targets the run adds through a file_sd
 * file, so an exporter started later joins without a reload.
 */
export class Prometheus {
  private readonly targets = new Map<string, ScrapeTarget>();

  private constructor(
    readonly url: string,
    private readonly targetsFile: string,
  ) {}

  static async start(dir: string, processes: ProcessGroup): Promise<Prometheus> {
    await mkdir(dir, { recursive: true });
    const targetsFile = join(dir, "targets.json");
    await writeFile(targetsFile, "[]\n");
    const config = [
      "global:",
      `  scrape_interval: ${SCRAPE_INTERVAL_SECONDS}s`,
      `  scrape_timeout: ${SCRAPE_INTERVAL_SECONDS - 1}s`,
      `  evaluation_interval: ${SCRAPE_INTERVAL_SECONDS}s`,
      "scrape_configs:",
      "  - job_name: queuescale-exporter",
      "    file_sd_configs:",
      `      - files: [${JSON.stringify(targetsFile)}]`,
      "        refresh_interval: 5s",
      "",
    ].join("\n");
    await writeFile(join(dir, "prometheus.yml"), config);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    processes.start("prometheus", "prometheus", [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ]);
    await waitFor(() => httpOk(`${url}/-/ready`), {
      timeoutMs: 60_000,
      what: "Prometheus /-/ready",
      abort: () => (processes.alive("prometheus") ? undefined : `exited; see ${processes.logPath("prometheus")}`),
    });
    return new Prometheus(url, targetsFile);
  }

  async addTarget(target: ScrapeTarget): Promise<void> {
    this.targets.set(target.address, target);
    await this.writeTargets();
  }

  async removeTarget(address: string): Promise<void> {
    this.targets.delete(address);
    await this.writeTargets();
  }

  private async writeTargets(): Promise<void> {
    const groups = [...this.targets.values()].map((target) => ({ targets: [target.address], labels: target.labels }));
    // Prometheus watches the file: replace it whole so it never reads a half-written one.
    const temporary = `${this.targetsFile}.tmp`;
    await writeFile(temporary, `${JSON.stringify(groups, null, 2)}\n`);
    await rename(temporary, this.targetsFile);
  }

  /** An instant query; returns each series' labels and value. */
  async query(promql: string): Promise<{ labels: Record<string, string>; value: number }[]> {
    const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`, {
      signal: AbortSignal.timeout(5_000),
    });
    if (!response.ok) throw new Error(`Prometheus query ${promql}: HTTP ${response.status}`);
    const body = (await response.json()) as QueryResult;
    return body.data.result.map((series) => ({ labels: series.metric, value: Number(series.value[1]) }));
  }
}
