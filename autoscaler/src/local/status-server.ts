import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Express } from "express";
import { finishApp } from "@queuescale/core";
import type { LocalAutoscaler } from "./local-autoscaler.js";
import type { WorkerPool } from "./worker-pool.js";

const STATIC_DIR = fileURLToPath(new URL("../../static/", import.meta.url));
const UPLOT_DIR = join(dirname(createRequire(import.meta.url).resolve("uplot/package.json")), "dist");

export interface StatusPageInfo {
  hpaName: string;
  metric: string;
  target: string;
  minReplicas: number;
  maxReplicas: number;
  syncPeriodSeconds: number;
  source: string;
  /** Shown on the page when windows were shortened for a demo. */
  note?: string;
}

/**
 * The status page: a live chart of depth and replicas, each decision with its reason, the worker
 * list, and each worker's log. Plain HTML and uPlot; the page polls `/api/state`.
 */
export function createStatusApp(autoscaler: LocalAutoscaler, pool: WorkerPool, info: StatusPageInfo): Express {
  const app = express();
  app.disable("x-powered-by");
  app.use("/vendor/uplot", express.static(UPLOT_DIR));
  app.use(express.static(STATIC_DIR));
  app.get("/api/state", (request, response) => {
    const since = Number(request.query.since ?? 0) || 0;
    response.json({
      info,
      desiredReplicas: autoscaler.desiredReplicas,
      samples: autoscaler.samples.filter((sample) => sample.t > since),
      decisions: autoscaler.decisions.slice(-200),
      workers: pool.list(),
    });
  });
  app.get("/api/workers/:id/log", (request, response) => {
    const from = Number(request.query.from ?? 0);
    if (!Number.isInteger(from) || from < 0) {
      response.status(400).json({ error: "from must be a whole number ≥ 0" });
      return;
    }
    const log = pool.logSince(request.params.id, from);
    if (!log) {
      response.status(404).json({ error: `no worker ${request.params.id}` });
      return;
    }
    response.json(log);
  });
  return finishApp(app);
}
