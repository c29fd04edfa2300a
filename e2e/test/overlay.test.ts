import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { BrokerFixture } from "../brokers/types.js";
import { DRAIN_TIME_COMPONENT } from "../drain-time.js";
import { Kubectl } from "../lib/kubectl.js";
import { findManifest, renderOverlay } from "../lib/overlay.js";
import { REPO_ROOT } from "../lib/paths.js";

interface Hpa {
  spec: {
    metrics: { external: { metric: { name: string; selector: unknown }; target: { averageValue: string } } }[];
  };
}

mkdirSync(join(REPO_ROOT, ".tmp"), { recursive: true });
const scratch = mkdtempSync(join(REPO_ROOT, ".tmp", "e2e-overlay-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// Only `kubectl kustomize` runs: no cluster is needed to render.
const kubectl = new Kubectl("/dev/null");
const fixture = {
  broker: "nats",
  selector: { broker: "nats", stream: "qs-e2e-render", consumer: "workers" },
  settings: { "queuescale-worker": { STREAM: "qs-e2e-render-idle" } },
} as unknown as BrokerFixture;

describe("the e2e overlay with the drain-time component", () => {
  it("names the run's queue in both HPA metrics, though kustomize applies components before patches", async () => {
    const rendered = await renderOverlay(join(scratch, "drain-time"), fixture, kubectl, {
      components: [DRAIN_TIME_COMPONENT],
    });
    const hpa = findManifest(rendered, "HorizontalPodAutoscaler", "queuescale-worker") as unknown as Hpa;
    expect(hpa.spec.metrics.map((metric) => metric.external.metric.name)).toEqual([
      "queuescale_queue_required_replicas",
      "queuescale_queue_depth",
    ]);
    for (const metric of hpa.spec.metrics) {
      expect(metric.external.metric.selector).toEqual({ matchLabels: fixture.selector });
    }
    const config = rendered.manifests.find(
      (manifest) => manifest.kind === "ConfigMap" && manifest.metadata.name.startsWith("queuescale-worker-"),
    ) as unknown as { data: Record<string, string> };
    expect(config.data).toMatchObject({ DRAIN_TARGET_SECONDS: "60", STREAM: "qs-e2e-render-idle" });
  });
});
