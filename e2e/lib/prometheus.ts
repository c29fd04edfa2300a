import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { REPO_ROOT, toolPath } from "./paths.js";
import type { ProcessGroup } from "./processes.js";
import { freePort, httpOk, waitFor } from "./wait.js";

/** The scrape jobs a Prometheus without the Operator uses: what the run loads. */
export const SCRAPE_CONFIGS = join(REPO_ROOT, "monitoring", "prometheus", "scrape-configs.yaml");
/** The recording and alerting rules the project ships. */
export const RULES = join(REPO_ROOT, "monitoring", "rules", "queuescale.rules.yaml");

interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  kubernetes_sd_configs?: Record<string, unknown>[];
  static_configs?: unknown[];
}

interface QueryResult {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/**
 * Prometheus 3 (built by scripts/e2e-tools.sh: Debian's 2.42 lacks Kubernetes service discovery)
 * with the jobs of monitoring/prometheus/scrape-configs.yaml as they are, finding the pods through
 * the run's API server. Test-only: each `kubernetes_sd_configs` entry gets the run's kubeconfig
 * (in a cluster Prometheus uses its service account), and the job for the fixed `make demo` target
 * is left out. It runs on the host and reaches the pods on the node's bridge.
 */
export class Prometheus {
  private constructor(
    readonly url: string,
    /** The longest scrape interval of the jobs it runs, in seconds. */
    readonly scrapeIntervalSeconds: number,
  ) {}

  static async start(dir: string, processes: ProcessGroup, kubeconfig: string): Promise<Prometheus> {
    await mkdir(dir, { recursive: true });
    const shipped = parse(await readFile(SCRAPE_CONFIGS, "utf8")) as { scrape_configs: ScrapeConfig[] };
    const jobs = shipped.scrape_configs
      .filter((job) => job.kubernetes_sd_configs !== undefined)
      .map((job) => ({
        ...job,
        kubernetes_sd_configs: job.kubernetes_sd_configs?.map((sd) => ({ ...sd, kubeconfig_file: kubeconfig })),
      }));
    const scrapeIntervalSeconds = Math.max(...jobs.map((job) => Number.parseInt(job.scrape_interval ?? "60", 10)));
    const config = {
      global: { evaluation_interval: `${scrapeIntervalSeconds}s` },
      // The shipped recording rules, as a cluster's Prometheus loads them from the PrometheusRule:
      // the drain-time scenario's metric is one of them.
      rule_files: [RULES],
      scrape_configs: jobs,
    };
    await writeFile(join(dir, "prometheus.yml"), stringify(config));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    processes.start("prometheus", toolPath("prometheus3"), [
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
    return new Prometheus(url, scrapeIntervalSeconds);
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
