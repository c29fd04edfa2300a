import { describe, expect, it } from "vitest";
import {
  averageValueTargetReplicas,
  podsTargetReplicas,
  valueTargetReplicas,
  type ReplicaCounts,
  type Tolerances,
} from "../src/engine/index.js";

const TOLERANCE: Tolerances = { scaleUp: 0.1, scaleDown: 0.1 };
const counts = (specReplicas: number, readyPods = specReplicas, statusReplicas = specReplicas): ReplicaCounts => ({
  specReplicas,
  statusReplicas,
  readyPods,
});
const milli = (value: number) => value * 1000;

function replicasOf(proposal: ReturnType<typeof valueTargetReplicas>): number {
  if (!proposal.ok) throw new Error(proposal.error);
  return proposal.replicas;
}

describe("External/Object AverageValue: desired = ceil(total / target), tolerance on total / (target × replicas)", () => {
  it("450 messages, 100 per replica, 2 replicas: ratio 2.25 → ceil(4.5) = 5", () => {
    expect(replicasOf(averageValueTargetReplicas(milli(450), milli(100), counts(2), TOLERANCE))).toBe(5);
  });

  it("220 on 2 replicas: ratio 1.10 is inside the tolerance (inclusive) → stays 2", () => {
    expect(replicasOf(averageValueTargetReplicas(milli(220), milli(100), counts(2), TOLERANCE))).toBe(2);
  });

  it("221 on 2 replicas: ratio 1.105 is outside → ceil(2.21) = 3", () => {
    expect(replicasOf(averageValueTargetReplicas(milli(221), milli(100), counts(2), TOLERANCE))).toBe(3);
  });

  it("900 on 10 replicas: ratio 0.90 stays 10; 899: ratio 0.899 → ceil(8.99) = 9", () => {
    expect(replicasOf(averageValueTargetReplicas(milli(900), milli(100), counts(10), TOLERANCE))).toBe(10);
    expect(replicasOf(averageValueTargetReplicas(milli(899), milli(100), counts(10), TOLERANCE))).toBe(9);
  });

  it("divides by status replicas, not ready pods: 150 on 4 replicas (1 ready) → ratio 0.375 → ceil(1.5) = 2", () => {
    expect(replicasOf(averageValueTargetReplicas(milli(150), milli(100), counts(4, 1), TOLERANCE))).toBe(2);
  });

  it("an empty queue proposes 0 (min/max clamp comes later)", () => {
    expect(replicasOf(averageValueTargetReplicas(0, milli(100), counts(3), TOLERANCE))).toBe(0);
  });

  it("a tolerance of 0 acts on any difference: 210 on 2 → ratio 1.05 → ceil(2.1) = 3", () => {
    expect(
      replicasOf(averageValueTargetReplicas(milli(210), milli(100), counts(2), { scaleUp: 0, scaleDown: 0.1 })),
    ).toBe(3);
  });
});

describe("External/Object Value: desired = ceil(usage ratio × ready pods)", () => {
  it("300 against a Value target of 100, 2 ready pods: ratio 3 → 6", () => {
    expect(replicasOf(valueTargetReplicas(milli(300), milli(100), counts(2), TOLERANCE))).toBe(6);
  });

  it("only ready pods count: 2 replicas, 1 ready → ceil(3 × 1) = 3", () => {
    expect(replicasOf(valueTargetReplicas(milli(300), milli(100), counts(2, 1), TOLERANCE))).toBe(3);
  });

  it("105 against 100 is inside the tolerance → stays at the current 4", () => {
    expect(replicasOf(valueTargetReplicas(milli(105), milli(100), counts(4), TOLERANCE))).toBe(4);
  });

  it("from 0 replicas (scale to zero) desired = ceil(ratio): 250/100 → 3, 0 → 0", () => {
    expect(replicasOf(valueTargetReplicas(milli(250), milli(100), counts(0), TOLERANCE))).toBe(3);
    expect(replicasOf(valueTargetReplicas(0, milli(100), counts(0), TOLERANCE))).toBe(0);
  });
});

describe("Pods AverageValue", () => {
  it("[200, 100, 150] against 100 per pod: average 150, ratio 1.5 → ceil(4.5) = 5", () => {
    expect(replicasOf(podsTargetReplicas({ podValues: [200, 100, 150] }, milli(100), 3, TOLERANCE))).toBe(5);
  });

  it("averages milli-values with integer division: [0.001, 0.002] → 1 milli (not 1.5) against 0.001 → ratio 1 → stays", () => {
    expect(replicasOf(podsTargetReplicas({ podValues: [0.001, 0.002] }, 1, 2, TOLERANCE))).toBe(2);
  });

  it("missing pods count as at target on a scale-down: [20, 20, null, null] → average of [20, 20, 100, 100] = 60 → ceil(0.6 × 4) = 3, not ceil(0.2 × 2) = 1", () => {
    expect(replicasOf(podsTargetReplicas({ podValues: [20, 20, null, null] }, milli(100), 4, TOLERANCE))).toBe(3);
  });

  it("unready pods count as 0 on a scale-up, and a flipped direction keeps the count: [120, 120] + 1 unready → ratio 0.8 < 1 < 1.2 → stays 2 (ready-only would say 3)", () => {
    expect(replicasOf(podsTargetReplicas({ podValues: [120, 120], unreadyPods: 1 }, milli(100), 2, TOLERANCE))).toBe(2);
    expect(replicasOf(podsTargetReplicas({ podValues: [120, 120] }, milli(100), 2, TOLERANCE))).toBe(3);
  });

  it("scale-up with unready pods uses all pods: [300, 300] + 1 unready → average 200 → ceil(2 × 3) = 6", () => {
    expect(replicasOf(podsTargetReplicas({ podValues: [300, 300], unreadyPods: 1 }, milli(100), 3, TOLERANCE))).toBe(6);
  });

  it("fails without any sample from a ready pod", () => {
    const proposal = podsTargetReplicas({ podValues: [null], unreadyPods: 2 }, milli(100), 3, TOLERANCE);
    expect(proposal).toEqual({ ok: false, error: "did not receive metrics for targeted pods (pods might be unready)" });
  });
});
