/**
 * What the controller remembers between syncs for one HPA. It lives in the controller's memory,
 * not in the HPA object: a restarted kube-controller-manager starts again from empty lists.
 * Times are seconds on any clock the caller keeps consistently.
 */

/** An unstabilized recommendation (the metrics' proposal) made at time `t`. */
export interface Recommendation {
  t: number;
  replicas: number;
}

/** A rescale made at time `t`: `change` replicas added (scale-up) or removed (scale-down), > 0. */
export interface ScaleEvent {
  t: number;
  change: number;
  /** Set once older than the longest policy period; the slot is reused by the next event. */
  outdated?: boolean;
}

export interface HpaState {
  recommendations: Recommendation[];
  scaleUpEvents: ScaleEvent[];
  scaleDownEvents: ScaleEvent[];
}

export function emptyState(): HpaState {
  return { recommendations: [], scaleUpEvents: [], scaleDownEvents: [] };
}

export function cloneState(state: HpaState): HpaState {
  return {
    recommendations: state.recommendations.map((r) => ({ ...r })),
    scaleUpEvents: state.scaleUpEvents.map((e) => ({ ...e })),
    scaleDownEvents: state.scaleDownEvents.map((e) => ({ ...e })),
  };
}
