import { ConfigError } from "@queuescale/core";
import { parse } from "csv-parse/sync";

/** One row of a replay trace: the external metric's total at `t`, null while it was unavailable. */
export interface TracePoint {
  t: number;
  value: number | null;
  ready: number | undefined;
}

/** Reads a `t,value[,ready]` CSV; an empty value means the metric could not be read then. */
export function parseTrace(text: string): TracePoint[] {
  let records: Record<string, string>[];
  try {
    records = parse(text, { columns: true, skip_empty_lines: true, trim: true, comment: "#" });
  } catch (error) {
    throw new ConfigError("--trace", `not CSV: ${error instanceof Error ? error.message : String(error)}`);
  }
  const points: TracePoint[] = [];
  records.forEach((record, index) => {
    const line = `row ${index + 1}`;
    if (!("t" in record) || !("value" in record)) throw new ConfigError("--trace", "needs a header with t,value");
    const t = Number(record.t);
    if (record.t === "" || !Number.isFinite(t)) throw new ConfigError("--trace", `${line}: t must be a number`);
    const previous = points.at(-1);
    if (previous && t < previous.t) throw new ConfigError("--trace", `${line}: t goes backwards`);
    const value = record.value === "" ? null : Number(record.value);
    if (value !== null && (!Number.isFinite(value) || value < 0)) {
      throw new ConfigError("--trace", `${line}: value must be a number ≥ 0 or empty (unavailable)`);
    }
    let ready: number | undefined;
    if (record.ready !== undefined && record.ready !== "") {
      ready = Number(record.ready);
      if (!Number.isInteger(ready) || ready < 0) {
        throw new ConfigError("--trace", `${line}: ready must be a whole number ≥ 0`);
      }
    }
    points.push({ t, value, ready });
  });
  if (points.length === 0) throw new ConfigError("--trace", "has no rows");
  return points;
}
