import {
  DEFAULT_FLAGS,
  HpaController,
  type ControllerFlags,
  type HpaSpec,
  type MetricSource,
} from "../../engine/index.js";
import { arrivalsDuring, resizePods } from "../workload.js";
import { Backlog, weightedQuantile } from "./backlog.js";
import { REQUIRED_REPLICAS_METRIC, handlerSecondsAt, type DrainModel, type Phases } from "./model.js";
import { MetricPipeline } from "./pipeline.js";

/**
 * One closed-loop run of the drain model under a way of sizing the worker pool: the fixed-target
 * HPA, the drain-time HPA (both through the metric pipeline), or the instant oracle.
 */

export interface DrainSummary {
  /** Share of the run's seconds in which the messages present could not all start within T at that second's capacity. */
  overTargetShare: number;
  /** 95th percentile of the messages' wait (publish to handler start), in seconds; null with no messages. */
  p95WaitSeconds: number | null;
  /** Σ replicas × seconds, pods starting up included. */
  replicaSeconds: number;
  peakReplicas: number;
  /** Messages still waiting at the end (their wait counts up to the end of the run). */
  unfinished: number;
}

export interface DrainPoint {
  t: number;
  depth: number;
  replicas: number;
  ready: number;
}

export interface DrainRunResult {
  summary: DrainSummary;
  timeline: DrainPoint[];
}

/** What a sizing sees at the start of second t, once that second's arrivals have landed. */
interface World {
  t: number;
  /** Depth at the start of the second, before its arrivals: what a poll would read. */
  depthAtStart: number;
  completions: number;
  handlerSeconds: number;
  backlog: Backlog;
  secondsPerMessage: number;
}

type Sizing = (world: World) => { replicas: number; ready: number };

const EPSILON = 1e-9;

function simulate(model: DrainModel, sizing: Sizing): DrainRunResult {
  const backlog = new Backlog();
  const timeline: DrainPoint[] = [];
  let completions = 0;
  let handlerSeconds = 0;
  let replicaSeconds = 0;
  let overSeconds = 0;
  for (let t = 0; t < model.durationSeconds; t++) {
    const depthAtStart = backlog.depth;
    const secondsPerMessage = handlerSecondsAt(model, t);
    backlog.add(t, arrivalsDuring(model, t));
    const { replicas, ready } = sizing({ t, depthAtStart, completions, handlerSeconds, backlog, secondsPerMessage });
    timeline.push({ t, depth: depthAtStart, replicas, ready });
    replicaSeconds += replicas;
    const capacity = (ready * model.concurrency) / secondsPerMessage;
    if (backlog.depth > model.drainTargetSeconds * capacity + EPSILON) overSeconds++;
    const started = backlog.take(t, capacity);
    completions += started;
    handlerSeconds += started * secondsPerMessage;
  }
  return {
    summary: {
      overTargetShare: overSeconds / model.durationSeconds,
      p95WaitSeconds: weightedQuantile(backlog.waitsUntil(model.durationSeconds), 0.95),
      replicaSeconds,
      peakReplicas: Math.max(...timeline.map((point) => point.replicas)),
      unfinished: backlog.depth,
    },
    timeline,
  };
}

/** The HPA's metrics without the drain-time one: the fixed messages-per-replica HPA. */
export function fixedTargetSpec(spec: HpaSpec): HpaSpec {
  return { ...spec, metrics: spec.metrics.filter((metric) => metric.name !== REQUIRED_REPLICAS_METRIC) };
}

/**
 * The HPA with the drain-time metric next to its depth metric (the HPA takes the larger
 * proposal): as given when the manifest has it, else added as External with AverageValue 1.
 */
export function drainTimeSpec(spec: HpaSpec): HpaSpec {
  if (spec.metrics.some((metric) => metric.name === REQUIRED_REPLICAS_METRIC)) return spec;
  const required: MetricSource = {
    type: "External",
    name: REQUIRED_REPLICAS_METRIC,
    target: { type: "AverageValue", milli: 1000 },
  };
  return { ...spec, metrics: [...spec.metrics, required] };
}

/**
 * The HPA in the loop: it syncs on its phase and reads what the pipeline lets through; the
 * drain-time metric gets the rule's value, every other metric the depth. New pods work
 * `startupSeconds` after the sync that made them; a scale-down removes pods not yet ready first.
 */
export function runHpa(
  model: DrainModel,
  spec: HpaSpec,
  phases: Phases,
  flags: ControllerFlags = DEFAULT_FLAGS,
): DrainRunResult {
  const controller = new HpaController(spec, flags);
  const pipeline = new MetricPipeline(model, phases);
  let pods: number[] = Array.from({ length: model.initialReplicas }, () => 0);
  return simulate(model, (world) => {
    const { t } = world;
    pipeline.observe(t, world.depthAtStart, world.completions, world.handlerSeconds);
    if (pipeline.syncsAt(t)) {
      const seen = pipeline.read(t);
      const decision = controller.sync({
        now: t,
        currentReplicas: pods.length,
        readyPods: pods.filter((readyAt) => readyAt <= t).length,
        metrics: spec.metrics.map((metric) => {
          const value = metric.name === REQUIRED_REPLICAS_METRIC ? seen.required : seen.depth;
          return value === null ? null : { value };
        }),
      });
      pods = resizePods(pods, decision.desiredReplicas, t + model.startupSeconds);
    }
    return { replicas: pods.length, ready: pods.filter((readyAt) => readyAt <= t).length };
  });
}

/**
 * The yardstick: every second, with no delay anywhere and pods ready at once, the fewest
 * replicas (within min/max) that start every waiting message within T of its publication at a
 * constant pace from now: max over the waiting messages of (messages up to and including them) /
 * (seconds left before their deadline, at least 1), × s / c. It knows the true handler time but
 * not future arrivals, and leaves work to the last moment: its waits come close to T, and its
 * replica-seconds are the least that meet T.
 */
export function runOracle(model: DrainModel, spec: Pick<HpaSpec, "minReplicas" | "maxReplicas">): DrainRunResult {
  return simulate(model, (world) => {
    let pace = 0;
    for (const cohort of world.backlog.waiting()) {
      // Published in second a, a message may start up to second a + T − 1: T seconds of work for it.
      const secondsLeft = Math.max(1, cohort.t + model.drainTargetSeconds - world.t);
      pace = Math.max(pace, cohort.ahead / secondsLeft);
    }
    const needed = Math.ceil((pace * world.secondsPerMessage) / model.concurrency - EPSILON);
    const replicas = Math.min(spec.maxReplicas, Math.max(spec.minReplicas, needed));
    return { replicas, ready: replicas };
  });
}
