import { ticks, type DrainModel, type Phases } from "./model.js";

/**
 * The metric pipeline between the queue and the HPA. Within a second the stages run in the
 * order data flows, so one value can pass every stage in the second they all tick:
 *
 * 1. the exporter polls the broker's depth (the depth at the start of the second);
 * 2. Prometheus scrapes the exporter's last poll and the workers' live counters (completions and
 *    the handler-time sum of their histogram);
 * 3. Prometheus evaluates the drain-time rule on what it scraped;
 * 4. the HPA, at its sync, sees the newest scrape and evaluation at least `adapterDelaySeconds` old.
 *
 * Each stage ticks on its own phase: a burst lands anywhere in the poll, scrape and evaluation
 * cycles, which is what makes the first reaction late by a varying amount in real runs.
 */

export interface ScrapeSample {
  t: number;
  /** The exporter's depth reading at scrape time; null before its first poll. */
  depth: number | null;
  /** Messages the workers finished so far (counter). */
  completions: number;
  /** Handler seconds of those messages (histogram sum). */
  handlerSeconds: number;
}

/** What the rule computed at one evaluation; null fields are absent series. */
export interface RuleEvaluation {
  t: number;
  required: number | null;
  /** s: the mean handler seconds it used (from the window, or the last known value). */
  handlerSeconds: number | null;
  /** λ: the arrival rate it estimated (messages/s, ≥ 0). */
  arrivalRate: number | null;
}

function inWindow(samples: readonly ScrapeSample[], t: number, window: number): ScrapeSample[] {
  // A range selector holds the samples of (t − window, t].
  return samples.filter((sample) => sample.t > t - window && sample.t <= t);
}

/** Least-squares slope per second, as PromQL `deriv` computes it; null with fewer than 2 points. */
export function leastSquaresSlope(points: readonly { t: number; v: number }[]): number | null {
  if (points.length < 2) return null;
  const n = points.length;
  const meanT = points.reduce((sum, p) => sum + p.t, 0) / n;
  const meanV = points.reduce((sum, p) => sum + p.v, 0) / n;
  let numerator = 0;
  let denominator = 0;
  for (const p of points) {
    numerator += (p.t - meanT) * (p.v - meanV);
    denominator += (p.t - meanT) ** 2;
  }
  return denominator === 0 ? null : numerator / denominator;
}

/**
 * The drain-time rule on scraped samples: required = (backlog / T + λ) × s / c, where s is the
 * mean handler time of the window's completions (or the last known s), λ = completion rate +
 * slope of the depth over its window, clamped at 0, and the backlog is the newest depth sample.
 */
export class DrainRule {
  private lastKnown: { t: number; seconds: number } | undefined;

  constructor(private readonly model: Pick<DrainModel, "windows" | "drainTargetSeconds" | "concurrency">) {}

  evaluate(samples: readonly ScrapeSample[], t: number): RuleEvaluation {
    const { windows } = this.model;
    const recent = inWindow(samples, t, windows.handlerSeconds);
    let handlerSeconds: number | null = null;
    if (recent.length >= 2) {
      const first = recent[0]!;
      const last = recent.at(-1)!;
      const finished = last.completions - first.completions;
      if (finished > 0) {
        handlerSeconds = (last.handlerSeconds - first.handlerSeconds) / finished;
        this.lastKnown = { t, seconds: handlerSeconds };
      }
    }
    if (handlerSeconds === null && this.lastKnown && t - this.lastKnown.t <= windows.lastKnownHandlerSeconds) {
      handlerSeconds = this.lastKnown.seconds;
    }
    const window = inWindow(samples, t, windows.arrivals);
    const withDepth = window.filter((sample) => sample.depth !== null);
    const depthSlope = leastSquaresSlope(withDepth.map((sample) => ({ t: sample.t, v: sample.depth! })));
    let arrivalRate: number | null = null;
    if (window.length >= 2 && depthSlope !== null) {
      const first = window[0]!;
      const last = window.at(-1)!;
      const completionRate = (last.completions - first.completions) / (last.t - first.t);
      arrivalRate = Math.max(0, completionRate + depthSlope);
    }
    const backlog = samples.findLast((sample) => sample.t <= t && sample.depth !== null)?.depth ?? null;
    const required =
      handlerSeconds === null || arrivalRate === null || backlog === null
        ? null
        : ((backlog / this.model.drainTargetSeconds + arrivalRate) * handlerSeconds) / this.model.concurrency;
    return { t, required, handlerSeconds, arrivalRate };
  }
}

/** The stages of one run, with their phases; feed it every second, ask it at HPA syncs. */
export class MetricPipeline {
  private polled: number | null = null;
  readonly scrapes: ScrapeSample[] = [];
  readonly evaluations: RuleEvaluation[] = [];
  private readonly rule: DrainRule;

  constructor(
    private readonly model: DrainModel,
    private readonly phases: Phases,
  ) {
    this.rule = new DrainRule(model);
  }

  /** Runs the stages that tick at second t; `depth` is the queue at the start of the second. */
  observe(t: number, depth: number, completions: number, handlerSeconds: number): void {
    const { pipeline } = this.model;
    if (ticks(t, pipeline.pollIntervalSeconds, this.phases.poll)) this.polled = depth;
    if (ticks(t, pipeline.scrapeIntervalSeconds, this.phases.scrape)) {
      this.scrapes.push({ t, depth: this.polled, completions, handlerSeconds });
    }
    if (ticks(t, pipeline.ruleIntervalSeconds, this.phases.rule)) {
      this.evaluations.push(this.rule.evaluate(this.scrapes, t));
    }
  }

  /** Whether the HPA syncs at second t. */
  syncsAt(t: number): boolean {
    return ticks(t, this.model.pipeline.syncPeriodSeconds, this.phases.sync);
  }

  /** What the external metrics API answers at second t: the depth and the rule's output, or null. */
  read(t: number): { depth: number | null; required: number | null } {
    const seen = t - this.model.pipeline.adapterDelaySeconds;
    const depth = this.scrapes.findLast((sample) => sample.t <= seen)?.depth ?? null;
    const required = this.evaluations.findLast((evaluation) => evaluation.t <= seen)?.required ?? null;
    return { depth, required };
  }
}
