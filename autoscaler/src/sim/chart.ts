import { writeFileSync } from "node:fs";
import { chartFormat } from "./input.js";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** One value of one series at one time; `axis` picks the left (messages) or right (replicas) scale. */
/** Loaded only when a chart is asked for: Vega takes a while to import. */

export interface ChartPoint {
  t: number;
  series: string;
  /** null draws a gap: the metric could not be read then. */
  value: number | null;
  axis: "messages" | "replicas";
}

export interface ChartOptions {
  title: string;
  /** Series in legend order, with their colours. */
  series: { name: string; color: string; axis: "messages" | "replicas"; dashed?: boolean }[];
}

function chartSpec(points: ChartPoint[], options: ChartOptions): TopLevelSpec {
  const color = {
    field: "series",
    type: "nominal" as const,
    title: null,
    scale: { domain: options.series.map((s) => s.name), range: options.series.map((s) => s.color) },
    legend: { orient: "top" as const, symbolType: "stroke", symbolStrokeWidth: 3 },
  };
  const dashed = options.series.filter((s) => s.dashed).map((s) => s.name);
  const x = { field: "t", type: "quantitative" as const, title: "time (s)" };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: options.title,
    width: 800,
    height: 320,
    data: { values: points },
    layer: [
      {
        transform: [{ filter: "datum.axis === 'messages'" }],
        mark: { type: "area", line: true, opacity: 0.25, interpolate: "linear", invalid: "break-paths-filter-domains" },
        encoding: {
          x,
          // Series overlap (the HPA run and the oracle), they do not add up.
          y: {
            field: "value",
            type: "quantitative",
            title: "queue depth (messages)",
            stack: null,
            axis: { orient: "left" },
          },
          color,
        },
      },
      {
        transform: [{ filter: "datum.axis === 'replicas'" }],
        mark: { type: "line", interpolate: "step-after", strokeWidth: 2 },
        encoding: {
          x,
          y: {
            field: "value",
            type: "quantitative",
            title: "replicas",
            axis: { orient: "right", tickMinStep: 1 },
          },
          color,
          strokeDash: {
            condition: { test: `indexof(${JSON.stringify(dashed)}, datum.series) >= 0`, value: [6, 4] },
            value: [1, 0],
          },
        },
      },
    ],
    resolve: { scale: { y: "independent" } },
    config: { font: "DejaVu Sans, sans-serif", background: "white" },
  };
}

/** Renders the chart headless with Vega (SVG) and resvg (PNG). */
export function renderChart(points: ChartPoint[], options: ChartOptions, format: "svg" | "png") {
  return renderVegaLite(chartSpec(points, options), format);
}

/** Renders any Vega-Lite spec headless, as the charts above are: the benchmarks draw theirs with it. */
export async function renderVegaLite(spec: TopLevelSpec, format: "svg" | "png"): Promise<Buffer> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  if (format === "svg") return Buffer.from(svg, "utf8");
  const png = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  }).render();
  return png.asPng();
}

export async function writeChart(path: string, points: ChartPoint[], options: ChartOptions): Promise<void> {
  writeFileSync(path, await renderChart(points, options, chartFormat(path)));
}
