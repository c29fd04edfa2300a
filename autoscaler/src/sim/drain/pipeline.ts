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

function inWindow<T extends { t: number }>(points: readonly T[], t: number, window: number): T[] {
  // A range selector holds the samples of (t − window, t] (left-open, as in Prometheus 3).
  return points.filter((point) => point.t > t - window && point.t <= t);
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
 * PromQL `rate` of a counter over (t − window, t]: the increase between the first and last samples,
 * extrapolated towards the window's edges (all the way when the gap is within 1.1 average sample
 * intervals, else half an interval, and never to below zero at the start), divided by the window.
 * Null with fewer than 2 samples. The sim's counters never reset.
 */
export function counterRate(points: readonly { t: number; v: number }[], t: number, window: number): number | null {
  const samples = inWindow(points, t, window);
  if (samples.length < 2) return null;
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const increase = last.v - first.v;
  const sampled = last.t - first.t;
  const average = sampled / (samples.length - 1);
  let toStart = first.t - (t - window);
  let toEnd = t - last.t;
  if (increase > 0 && first.v >= 0) toStart = Math.min(toStart, sampled * (first.v / increase));
  const threshold = average * 1.1;
  if (toStart >= threshold) toStart = average / 2;
  if (toEnd >= threshold) toEnd = average / 2;
  return (increase * ((sampled + toStart + toEnd) / sampled)) / window;
}

/**
 * The drain-time recording rules of monitoring/rules on scraped samples:
 *
 * - s = rate(handler seconds sum) / rate(handler seconds count) over the handler window: the mean
 *   handler time of the window's completions; absent when none finished, and then the last value
 *   it had (`last_over_time`, up to `lastKnownHandlerSeconds`);
 * - λ = max(0, rate(completions) + deriv(backlog)) over the arrival window, where the backlog
 *   series is the rule's own record of the depth, one point per evaluation;
 * - required = (backlog / T + λ) × s / c, with the newest depth sample as the backlog.
 */
export class DrainRule {
  private lastKnown: { t: number; seconds: number } | undefined;
  /** The recorded depth (queuescale:queue_depth:max): one point per evaluation. */
  private readonly recordedDepth: { t: number; v: number }[] = [];

  constructor(private readonly model: Pick<DrainModel, "windows" | "drainTargetSeconds" | "concurrency">) {}

  evaluate(samples: readonly ScrapeSample[], t: number): RuleEvaluation {
    const { windows } = this.model;
    const backlog = samples.findLast((sample) => sample.t <= t && sample.depth !== null)?.depth ?? null;
    if (backlog !== null) this.recordedDepth.push({ t, v: backlog });

    const recent = inWindow(samples, t, windows.handlerSeconds);
    let handlerSeconds: number | null = null;
    if (recent.length >= 2) {
      // The two rates share their samples, so their extrapolation cancels in the ratio.
      const finished = recent.at(-1)!.completions - recent[0]!.completions;
      if (finished > 0) {
        handlerSeconds = (recent.at(-1)!.handlerSeconds - recent[0]!.handlerSeconds) / finished;
        this.lastKnown = { t, seconds: handlerSeconds };
      }
    }
    if (handlerSeconds === null && this.lastKnown && t - this.lastKnown.t <= windows.lastKnownHandlerSeconds) {
      handlerSeconds = this.lastKnown.seconds;
    }

    const completions = samples.map((sample) => ({ t: sample.t, v: sample.completions }));
    // No completion series yet counts as no completions (`or … * 0` in the rule).
    const completionRate = counterRate(completions, t, windows.arrivals) ?? 0;
    const depthSlope = leastSquaresSlope(inWindow(this.recordedDepth, t, windows.arrivals));
    const arrivalRate = depthSlope === null ? null : Math.max(0, completionRate + depthSlope);

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
