// A handler that pretends to work, for the demo and load tests.
//
//   WORK_MS             milliseconds per message (default 50); a JSON body's `ms` field overrides it
//   WORK_FAILURE_RATIO  share of attempts that throw, 0..1 (default 0); a body with `fail: true` always throws
//   WORK_RECORD_FILE    when set, one line per handled message is appended: id, attempt, pid and the
//                       milliseconds it waited from publication to this handler (empty when the
//                       message carries no publish time), tab-separated
//
// The body must be JSON: anything else is undecodable and goes to the dead letters at once.
import { openSync, writeSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";

const workMs = Number(process.env.WORK_MS ?? 50);
const failureRatio = Number(process.env.WORK_FAILURE_RATIO ?? 0);
const recordFile = process.env.WORK_RECORD_FILE;
// One append-mode descriptor: each line is a single write, so lines of several workers never interleave.
const record = recordFile ? openSync(recordFile, "a") : undefined;

export async function handle(message, context) {
  const waitedMs = message.publishedAtMs === undefined ? "" : String(Date.now() - message.publishedAtMs);
  const payload = message.json();
  const ms = typeof payload?.ms === "number" ? payload.ms : workMs;
  if (ms > 0) await delay(ms, undefined, { signal: context.signal });
  if (payload?.fail === true) throw new Error("simulated poison message (fail: true)");
  if (failureRatio > 0 && Math.random() < failureRatio) throw new Error("simulated failure");
  if (record !== undefined) writeSync(record, `${message.id}\t${message.attempt}\t${process.pid}\t${waitedMs}\n`);
}
