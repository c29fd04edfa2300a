import { z } from "zod";
import { quantityValue, toMilli } from "./quantity.js";

/**
 * The part of an autoscaling/v2 HorizontalPodAutoscaler the algorithm reads, parsed with the
 * API server's validation and defaulting applied, so a bad manifest fails here with the path of
 * the bad field rather than producing a surprising decision later.
 */

export type PolicyType = "Pods" | "Percent";
export type SelectPolicy = "Max" | "Min" | "Disabled";

export interface ScalingPolicy {
  type: PolicyType;
  value: number;
  periodSeconds: number;
}

export interface ScalingRules {
  /** Undefined only for scale-down: the controller then uses its own flag (300 s by default). */
  stabilizationWindowSeconds: number | undefined;
  selectPolicy: SelectPolicy;
  policies: ScalingPolicy[];
  /** Per-direction tolerance (HPAConfigurableTolerance); undefined means the controller's flag. */
  tolerance: number | undefined;
}

export interface Behavior {
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

/** Target values are kept in milli-units, as the controller compares them. */
export type MetricTarget = { type: "Value"; milli: number } | { type: "AverageValue"; milli: number };

export type MetricSource =
  | { type: "External"; name: string; target: MetricTarget }
  | { type: "Object"; name: string; objectKind: string; target: MetricTarget }
  | { type: "Pods"; name: string; target: { type: "AverageValue"; milli: number } };

export interface HpaSpec {
  name: string | undefined;
  minReplicas: number;
  maxReplicas: number;
  metrics: MetricSource[];
  /** Absent behavior selects the controller's legacy path, not the defaults below. */
  behavior: Behavior | undefined;
}

/** Bad HPA input: `path` names the field (`spec.metrics[0].external.target`). */
export class HpaSpecError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = "HpaSpecError";
  }
}

/* Defaults the API server fills into a behavior that is present (pkg/apis/autoscaling/v2/defaults.go). */
export const DEFAULT_SCALE_UP_RULES: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: "Max",
  policies: [
    { type: "Pods", value: 4, periodSeconds: 15 },
    { type: "Percent", value: 100, periodSeconds: 15 },
  ],
  tolerance: undefined,
};

export const DEFAULT_SCALE_DOWN_RULES: ScalingRules = {
  stabilizationWindowSeconds: undefined,
  selectPolicy: "Max",
  policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
  tolerance: undefined,
};

const quantity = (what: string) =>
  z
    .union([z.string(), z.number()], { message: `${what} must be a quantity such as 100 or "1.5k"` })
    .transform((raw, context) => {
      const value = quantityValue(raw);
      if (value === undefined) {
        context.addIssue({ code: "custom", message: `${what} must be a quantity such as 100 or "1.5k"` });
        return z.NEVER;
      }
      return value;
    });

const positiveMilli = (what: string) =>
  quantity(what)
    .transform((value) => toMilli(value))
    .refine((milli) => milli > 0, { message: `${what} must be greater than 0` });

const int = (what: string) =>
  z.number({ message: `${what} must be a whole number` }).int(`${what} must be a whole number`);

const metricIdentifier = z.object({
  name: z.string({ message: "metric.name is required" }).min(1, "metric.name is required"),
  selector: z.unknown().optional(),
});

const target = z
  .object({
    type: z.enum(["Value", "AverageValue", "Utilization"], {
      message: "target.type must be Value or AverageValue",
    }),
    value: positiveMilli("target.value").optional(),
    averageValue: positiveMilli("target.averageValue").optional(),
    averageUtilization: z.unknown().optional(),
  })
  .transform((raw, context): MetricTarget => {
    if (raw.type === "Value" && raw.value !== undefined) return { type: "Value", milli: raw.value };
    if (raw.type === "AverageValue" && raw.averageValue !== undefined) {
      return { type: "AverageValue", milli: raw.averageValue };
    }
    const message =
      raw.type === "Utilization"
        ? "Utilization targets apply to CPU/memory resource metrics, which are not simulated"
        : `target.type ${raw.type} needs target.${raw.type === "Value" ? "value" : "averageValue"}`;
    context.addIssue({ code: "custom", message });
    return z.NEVER;
  });

const metricSpec = z.discriminatedUnion(
  "type",
  [
    z.object({
      type: z.literal("External"),
      external: z.object({ metric: metricIdentifier, target }, { message: "external is required" }),
    }),
    z.object({
      type: z.literal("Object"),
      object: z.object(
        {
          describedObject: z.object({ kind: z.string().min(1), name: z.string().min(1) }).loose(),
          metric: metricIdentifier,
          target,
        },
        { message: "object is required" },
      ),
    }),
    z.object({
      type: z.literal("Pods"),
      pods: z.object({ metric: metricIdentifier, target }, { message: "pods is required" }),
    }),
    z.object({ type: z.literal("Resource") }).loose(),
    z.object({ type: z.literal("ContainerResource") }).loose(),
  ],
  { message: "type must be External, Object or Pods" },
);

const policy = z.object({
  type: z.enum(["Pods", "Percent"], { message: "policy type must be Pods or Percent" }),
  value: int("policy value").positive("policy value must be greater than 0"),
  periodSeconds: int("periodSeconds")
    .positive("periodSeconds must be greater than 0")
    .max(1800, "periodSeconds must be at most 1800"),
});

const rules = z.object({
  stabilizationWindowSeconds: int("stabilizationWindowSeconds")
    .min(0, "stabilizationWindowSeconds must be 0 or more")
    .max(3600, "stabilizationWindowSeconds must be at most 3600")
    .optional(),
  selectPolicy: z.enum(["Max", "Min", "Disabled"], { message: "selectPolicy must be Max, Min or Disabled" }).optional(),
  policies: z.array(policy).min(1, "policies must list at least one policy").optional(),
  tolerance: quantity("tolerance")
    .refine((value) => value >= 0, { message: "tolerance must be 0 or more" })
    .optional(),
});

const specSchema = z
  .object({
    minReplicas: int("minReplicas").min(0, "minReplicas must be 0 or more").optional(),
    maxReplicas: int("maxReplicas").positive("maxReplicas must be at least 1"),
    metrics: z
      .array(metricSpec, { message: "metrics must be a list" })
      .min(1, "metrics must list at least one metric (the CPU default is not simulated)"),
    behavior: z.object({ scaleUp: rules.optional(), scaleDown: rules.optional() }).optional(),
  })
  .loose();

type RawRules = z.infer<typeof rules>;

function withDefaults(raw: RawRules | undefined, defaults: ScalingRules): ScalingRules {
  return {
    stabilizationWindowSeconds: raw?.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds,
    selectPolicy: raw?.selectPolicy ?? defaults.selectPolicy,
    policies: raw?.policies ?? defaults.policies.map((p) => ({ ...p })),
    tolerance: raw?.tolerance ?? defaults.tolerance,
  };
}

function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    text += typeof part === "number" ? `[${part}]` : `${text ? "." : ""}${String(part)}`;
  }
  return text || "hpa";
}

function convertMetric(raw: z.infer<typeof metricSpec>, index: number, prefix: string): MetricSource {
  switch (raw.type) {
    case "External":
      return { type: "External", name: raw.external.metric.name, target: raw.external.target };
    case "Object":
      return {
        type: "Object",
        name: raw.object.metric.name,
        objectKind: raw.object.describedObject.kind,
        target: raw.object.target,
      };
    case "Pods":
      if (raw.pods.target.type !== "AverageValue") {
        throw new HpaSpecError(`${prefix}metrics[${index}].pods.target`, "Pods metrics support only AverageValue");
      }
      return { type: "Pods", name: raw.pods.metric.name, target: raw.pods.target };
    default:
      throw new HpaSpecError(
        `${prefix}metrics[${index}].type`,
        `${raw.type} (CPU/memory) metrics are not simulated; use External, Object or Pods`,
      );
  }
}

/**
 * Parses an HPA object (`kind: HorizontalPodAutoscaler`) or just its `spec`. Throws HpaSpecError
 * naming the first bad field.
 */
export function parseHpa(input: unknown): HpaSpec {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new HpaSpecError("hpa", "must be a HorizontalPodAutoscaler object or its spec");
  }
  const record = input as Record<string, unknown>;
  let rawSpec: unknown = record;
  let prefix = "";
  let name: string | undefined;
  if ("spec" in record) {
    const apiVersion = record.apiVersion;
    if (apiVersion !== undefined && apiVersion !== "autoscaling/v2" && apiVersion !== "autoscaling/v2beta2") {
      throw new HpaSpecError("apiVersion", `must be autoscaling/v2 (got ${String(apiVersion)})`);
    }
    if (record.kind !== undefined && record.kind !== "HorizontalPodAutoscaler") {
      throw new HpaSpecError("kind", `must be HorizontalPodAutoscaler (got ${String(record.kind)})`);
    }
    const metadata = record.metadata as { name?: unknown } | undefined;
    name = typeof metadata?.name === "string" ? metadata.name : undefined;
    rawSpec = record.spec;
    prefix = "spec.";
  }
  const result = specSchema.safeParse(rawSpec);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new HpaSpecError(formatPath([...(prefix ? ["spec"] : []), ...issue.path]), issue.message);
  }
  const spec = result.data;
  const metrics = spec.metrics.map((metric, index) => convertMetric(metric, index, prefix));
  const minReplicas = spec.minReplicas ?? 1;
  if (minReplicas === 0 && !metrics.some((metric) => metric.type === "External" || metric.type === "Object")) {
    // As the API server does with HPAScaleToZero: zero is only meaningful with a metric that
    // exists while no pod runs.
    throw new HpaSpecError(`${prefix}minReplicas`, "0 needs at least one External or Object metric");
  }
  if (spec.maxReplicas < minReplicas) {
    throw new HpaSpecError(`${prefix}maxReplicas`, `must be at least minReplicas (${minReplicas})`);
  }
  const behavior = spec.behavior
    ? {
        scaleUp: withDefaults(spec.behavior.scaleUp, DEFAULT_SCALE_UP_RULES),
        scaleDown: withDefaults(spec.behavior.scaleDown, DEFAULT_SCALE_DOWN_RULES),
      }
    : undefined;
  return { name, minReplicas, maxReplicas: spec.maxReplicas, metrics, behavior };
}

/** How the controller names a metric in its reasons. */
export function describeMetric(metric: MetricSource): string {
  switch (metric.type) {
    case "External":
      return `external metric ${metric.name}`;
    case "Object":
      return `${metric.objectKind} metric ${metric.name}`;
    case "Pods":
      return `pods metric ${metric.name}`;
  }
}
