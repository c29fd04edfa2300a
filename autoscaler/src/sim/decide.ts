import { ConfigError } from "@queuescale/core";
import { z } from "zod";
import { HpaStateError, reconcile, type Decision } from "../engine/index.js";
import { hpaOrConfigError } from "./manifest.js";

const count = z.number().int().min(0);
const scaleEvent = z
  .object({ t: z.number(), change: z.number().int().positive(), outdated: z.boolean().optional() })
  .strict();

/** The controller's inputs and memory for one sync, as `queuescale-sim decide` reads them. */
const decideInput = z
  .object({
    hpa: z.record(z.string(), z.unknown(), { message: "must be an HPA object or its spec" }),
    now: z.number(),
    currentReplicas: count,
    statusReplicas: count.optional(),
    readyPods: count.optional(),
    metrics: z.array(
      z.union(
        [
          z.null(),
          z.object({ value: z.number().min(0) }).strict(),
          z.object({ podValues: z.array(z.number().min(0).nullable()), unreadyPods: count.optional() }).strict(),
        ],
        { message: 'each entry must be {"value": N}, {"podValues": [...]} or null' },
      ),
    ),
    recommendations: z.array(z.object({ t: z.number(), replicas: count }).strict()).default([]),
    scaleUpEvents: z.array(scaleEvent).default([]),
    scaleDownEvents: z.array(scaleEvent).default([]),
    tolerance: z.number().min(0).default(0.1),
    downscaleStabilizationSeconds: z.number().min(0).default(300),
  })
  .strict();

function pathOf(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) => (typeof part === "number" ? `[${part}]` : `${index ? "." : ""}${String(part)}`))
    .join("");
}

/** One sync from a JSON document; bad input throws ConfigError naming the field. */
export function decide(text: string): Pick<Decision, "desiredReplicas" | "reason"> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ConfigError("input", `not JSON (${detail.replace(/\s+/g, " ")})`);
  }
  const result = decideInput.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(pathOf(issue.path) || "input", issue.message);
  }
  const input = result.data;
  const spec = hpaOrConfigError(input.hpa, "hpa");
  try {
    const decision = reconcile(
      spec,
      input,
      {
        recommendations: input.recommendations,
        scaleUpEvents: input.scaleUpEvents,
        scaleDownEvents: input.scaleDownEvents,
      },
      { tolerance: input.tolerance, downscaleStabilizationSeconds: input.downscaleStabilizationSeconds },
    );
    return { desiredReplicas: decision.desiredReplicas, reason: decision.reason };
  } catch (error) {
    if (error instanceof HpaStateError) {
      const [field, ...rest] = error.message.split(": ");
      throw new ConfigError(field!, rest.join(": "));
    }
    throw error;
  }
}
