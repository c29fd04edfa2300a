import { setMaxListeners } from "node:events";
import type { Logger } from "pino";
import { mergeReadings } from "../../sources/merge.js";
import { classifyPollError, describeError } from "../../sources/errors.js";
import type { DepthSource, Snapshot } from "../../sources/types.js";
import { SourceError } from "../../sources/types.js";

/** One way of reading the broker that `auto` may pick: the sources of one kind, read together. */
export interface Candidate {
  readonly kind: string;
  readonly sources: readonly DepthSource[];
}

/** Polls every source of a candidate; all must answer, or the candidate fails with the first error. */
async function pollCandidate(candidate: Candidate, signal: AbortSignal): Promise<Snapshot> {
  // Every source of the candidate (one per listed queue for amqp) listens to the one signal.
  setMaxListeners(Math.max(10, candidate.sources.length + 10), signal);
  const snapshots = await Promise.all(candidate.sources.map((source) => source.poll(signal)));
  return {
    readings: mergeReadings(snapshots.map((snapshot) => snapshot.readings)),
    takenAtMs: Math.max(...snapshots.map((snapshot) => snapshot.takenAtMs)),
  };
}

/**
 * RABBITMQ_SOURCE=auto with more than one configured way to read: until one has answered, each
 * poll tries them in order (cheapest first) and keeps the first that answers. From then on that
 * kind is used for good: switching kinds in an outage would change what the series mean (amqp
 * knows no unacked), so a later failure is an outage like any other. A broker down at start only
 * delays the choice.
 */
export class AutoSource implements DepthSource {
  readonly broker = "rabbitmq" as const;
  readonly name = "auto";
  private chosen: Candidate | undefined;

  constructor(
    private readonly candidates: readonly Candidate[],
    private readonly logger: Logger,
  ) {}

  async poll(signal: AbortSignal): Promise<Snapshot> {
    if (this.chosen) return pollCandidate(this.chosen, signal);
    const failures: { kind: string; error: unknown }[] = [];
    for (const candidate of this.candidates) {
      try {
        const snapshot = await pollCandidate(candidate, signal);
        this.chosen = candidate;
        this.logger.info(
          { source: this.name, kind: candidate.kind, skipped: failures.map((failure) => failure.kind) },
          "RabbitMQ depth source chosen",
        );
        await Promise.all(
          this.candidates
            .filter((other) => other !== candidate)
            .flatMap((other) => other.sources.map((s) => s.close())),
        );
        return snapshot;
      } catch (error) {
        if (signal.aborted) throw error;
        failures.push({ kind: candidate.kind, error });
      }
    }
    // The reason of the preferred kind is reported: it is the one the operator expects to work.
    const message = failures.map((failure) => `${failure.kind}: ${describeError(failure.error)}`).join("; ");
    throw new SourceError(classifyPollError(failures[0]!.error), message);
  }

  async close(): Promise<void> {
    const sources = this.chosen ? this.chosen.sources : this.candidates.flatMap((candidate) => candidate.sources);
    await Promise.all(sources.map((source) => source.close()));
  }
}
