/**
 * The range windows of the drain-time recording rules, read from a rule file, so that what
 * recomputes those rules (the e2e check against the raw series) or models them (queuescale-sim
 * drain's defaults, checked by a test) uses the windows Prometheus evaluates instead of a copy.
 */
import { parse } from "yaml";

export interface DrainTimeWindows {
  /** s, the mean handler seconds per message, is taken over this window. */
  handlerSeconds: number;
  /** The completion rate and the backlog's derivative, which make up the arrivals, over this window. */
  arrivals: number;
  /** The last known s is kept this long. */
  lastKnownHandlerSeconds: number;
}

/** The records that carry the windows, by the start of their name (the end names the window). */
export const DRAIN_TIME_RECORDS = {
  handlerSeconds: "queuescale:queue_handler_seconds:mean",
  completions: "queuescale:queue_completions:rate",
  arrivals: "queuescale:queue_arrivals:rate",
  lastKnownHandlerSeconds: "queuescale:queue_handler_seconds:last",
} as const;

interface RuleFile {
  groups: Array<{ rules: Array<{ record?: string; expr: string }> }>;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A rule's record name and the one range window of its expression, in seconds. */
export interface WindowedRecord {
  record: string;
  seconds: number;
}

/** The drain-time records of a rule file (its YAML text) with their windows. */
export function drainTimeRecords(rulesYaml: string): Record<keyof typeof DRAIN_TIME_RECORDS, WindowedRecord> {
  const rules = (parse(rulesYaml) as RuleFile).groups.flatMap((group) => group.rules);
  const windowed = (prefix: string): WindowedRecord => {
    const matching = rules.filter((rule) => rule.record?.startsWith(prefix));
    if (matching.length !== 1) throw new Error(`expected one record named ${prefix}…, found ${matching.length}`);
    const [rule] = matching as [{ record: string; expr: string }];
    const ranges = new Set(
      [...rule.expr.matchAll(/\[(\d+)([smhd])\]/g)].map(([, n, unit]) => Number(n) * UNIT_SECONDS[unit!]!),
    );
    if (ranges.size !== 1)
      throw new Error(`${rule.record}: expected one range window, found ${[...ranges].join(", ") || "none"}`);
    return { record: rule.record, seconds: [...ranges][0]! };
  };
  return {
    handlerSeconds: windowed(DRAIN_TIME_RECORDS.handlerSeconds),
    completions: windowed(DRAIN_TIME_RECORDS.completions),
    arrivals: windowed(DRAIN_TIME_RECORDS.arrivals),
    lastKnownHandlerSeconds: windowed(DRAIN_TIME_RECORDS.lastKnownHandlerSeconds),
  };
}

/**
 * The windows of the drain-time rules in a rule file. The completion rate and the backlog's
 * derivative must share theirs (a backlog worked off at the rate it falls then reads as no
 * arrivals), so a file where they differ is an error rather than two windows to choose from.
 */
export function drainTimeWindows(rulesYaml: string): DrainTimeWindows {
  const records = drainTimeRecords(rulesYaml);
  if (records.completions.seconds !== records.arrivals.seconds) {
    throw new Error(
      `${records.completions.record} ([${records.completions.seconds}s]) and ${records.arrivals.record} ([${records.arrivals.seconds}s]) must share their window`,
    );
  }
  return {
    handlerSeconds: records.handlerSeconds.seconds,
    arrivals: records.arrivals.seconds,
    lastKnownHandlerSeconds: records.lastKnownHandlerSeconds.seconds,
  };
}
