/**
 * The queue as a first-in first-out list of arrival cohorts, so each message's wait (publish to
 * handler start) is known. Work is fluid: a fraction of a cohort can start in a second.
 */

interface Cohort {
  /** Second the messages were published in. */
  t: number;
  messages: number;
}

/** A wait and how many messages had it. */
export interface WaitWeight {
  wait: number;
  messages: number;
}

const EPSILON = 1e-9;

export class Backlog {
  private readonly cohorts: Cohort[] = [];
  private head = 0;
  private total = 0;
  /** Waits of the messages started so far, one entry per (cohort, second) pair. */
  readonly waits: WaitWeight[] = [];

  get depth(): number {
    return this.total;
  }

  add(t: number, messages: number): void {
    if (messages <= 0) return;
    const last = this.cohorts.at(-1);
    if (last && last.t === t && this.cohorts.length > this.head) last.messages += messages;
    else this.cohorts.push({ t, messages });
    this.total += messages;
  }

  /** Starts up to `capacity` messages, oldest first, at second t; returns how many started. */
  take(t: number, capacity: number): number {
    let left = capacity;
    let started = 0;
    while (left > EPSILON && this.head < this.cohorts.length) {
      const cohort = this.cohorts[this.head]!;
      const taken = Math.min(left, cohort.messages);
      cohort.messages -= taken;
      left -= taken;
      started += taken;
      this.waits.push({ wait: t - cohort.t, messages: taken });
      if (cohort.messages <= EPSILON) this.head++;
    }
    this.total -= started;
    if (this.total <= EPSILON) this.total = 0;
    return started;
  }

  /** Cohorts still waiting, oldest first: `ahead` counts the messages before and including each. */
  *waiting(): Generator<{ t: number; ahead: number }> {
    let ahead = 0;
    for (let index = this.head; index < this.cohorts.length; index++) {
      const cohort = this.cohorts[index]!;
      if (cohort.messages <= EPSILON) continue;
      ahead += cohort.messages;
      yield { t: cohort.t, ahead };
    }
  }

  /** Waits so far plus, for messages never started, the wait up to `end` (a lower bound). */
  waitsUntil(end: number): WaitWeight[] {
    const open = [...this.waiting()].map((cohort, index, all) => ({
      wait: end - cohort.t,
      messages: cohort.ahead - (index === 0 ? 0 : all[index - 1]!.ahead),
    }));
    return [...this.waits, ...open];
  }
}

/**
 * The q-quantile of weighted waits: the smallest wait w such that the messages waiting at most w
 * are at least q of all messages. Null when no message was published.
 */
export function weightedQuantile(weights: readonly WaitWeight[], q: number): number | null {
  const sorted = weights.filter((w) => w.messages > EPSILON).sort((a, b) => a.wait - b.wait);
  const total = sorted.reduce((sum, w) => sum + w.messages, 0);
  if (total <= EPSILON) return null;
  let seen = 0;
  for (const weight of sorted) {
    seen += weight.messages;
    if (seen >= q * total - EPSILON) return weight.wait;
  }
  return sorted.at(-1)!.wait;
}
