import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { findObject, kustomize, type K8sObject } from "../../k8s/test/render.js";
import { MONITORING_DIR } from "../src/generated.js";

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), "queuescale-scrape-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface ScrapeJob {
  job_name: string;
  scrape_interval?: string;
  kubernetes_sd_configs?: unknown[];
  static_configs?: unknown[];
  relabel_configs?: Array<{ source_labels?: string[]; regex?: string; action?: string; target_label?: string }>;
}

describe("scrape configuration", () => {
  it("the plain scrape_configs pass promtool check config, discovery swapped for a static target", async () => {
    // Debian's Prometheus is built without Kubernetes service discovery, so promtool would reject
    // kubernetes_sd_configs itself; everything else (intervals, relabelling) is checked as written.
    const config = parse(readFileSync(`${MONITORING_DIR}prometheus/scrape-configs.yaml`, "utf8")) as {
      scrape_configs: ScrapeJob[];
    };
    const discovered = config.scrape_configs.filter((job) => job.kubernetes_sd_configs);
    expect(discovered.map((job) => job.job_name)).toEqual(["queuescale-exporter", "queuescale-worker"]);
    const checked = {
      scrape_configs: config.scrape_configs.map(({ kubernetes_sd_configs, ...job }) =>
        kubernetes_sd_configs ? { ...job, static_configs: [{ targets: ["127.0.0.1:1"] }] } : job,
      ),
    };
    const file = join(scratch, "prometheus.yml");
    writeFileSync(file, stringify(checked));
    const { stdout } = await run("promtool", ["check", "config", file]);
    expect(stdout).toContain("SUCCESS");
    for (const job of discovered) {
      expect(job.scrape_interval).toBe("10s");
      const targets = job.relabel_configs!.map((relabel) => relabel.target_label).filter(Boolean);
      expect(targets).toEqual(expect.arrayContaining(["namespace", "pod"]));
      const keep = job.relabel_configs!.find((relabel) => relabel.action === "keep");
      expect(keep?.regex).toBe(`${job.job_name};metrics`);
    }
  });

  it("ServiceMonitors and the PodMonitor select queuescale's pods and ports, depth every 10 s", async () => {
    const monitors = parseAllDocuments(readFileSync(`${MONITORING_DIR}prometheus-operator/scrape.yaml`, "utf8")).map(
      (document) => document.toJS() as K8sObject,
    );
    const { objects } = await kustomize("k8s/overlays/rabbitmq");
    const exporter = findObject(monitors, "ServiceMonitor", "queuescale-exporter");
    const exporterService = findObject(objects, "Service", "queuescale-exporter");
    expect(exporterService.metadata.labels).toMatchObject(exporter.spec.selector.matchLabels);
    expect(exporter.spec.endpoints[0]).toMatchObject({ port: exporterService.spec.ports[0].name, interval: "10s" });

    const worker = findObject(monitors, "PodMonitor", "queuescale-worker");
    const workerPod = findObject(objects, "Deployment", "queuescale-worker").spec.template;
    expect(workerPod.metadata.labels).toMatchObject(worker.spec.selector.matchLabels);
    expect(worker.spec.podMetricsEndpoints[0]).toMatchObject({
      port: workerPod.spec.containers[0].ports[0].name,
      interval: "10s",
    });

    const producer = findObject(monitors, "ServiceMonitor", "queuescale-producer");
    const producerService = findObject(objects, "Service", "queuescale-producer");
    expect(producerService.metadata.labels).toMatchObject(producer.spec.selector.matchLabels);
    expect(producer.spec.endpoints[0].port).toBe(producerService.spec.ports[0].name);
  });
});
