import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "@queuescale/test-support/names";
import { BROKER_HARNESSES, type WorkerTarget } from "@queuescale/test-support/brokers";
import { WorkerProcess, buildWorker } from "./support/worker-process.js";

const APPEND_HANDLER = fileURLToPath(new URL("../examples/append-output.js", import.meta.url));

interface OutputLine {
  id: string;
  attempt: number;
  body: string;
}

function readOutput(file: string): OutputLine[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as OutputLine);
}

describe.each(BROKER_HARNESSES)("examples/append-output.js on $broker", (harness) => {
  let dir: string;
  let target: WorkerTarget;

  beforeAll(async () => {
    buildWorker();
    dir = mkdtempSync(join(tmpdir(), "queuescale-append-output-"));
    target = await harness.workerTarget();
  }, 120_000);

  afterAll(async () => {
    await target?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("appends one line per processed message to OUTPUT_FILE, with the publisher's message id", async () => {
    const output = join(dir, "output.txt");
    // Ids as a producer upload gives them: <upload id>:<line>; one body spans lines.
    const rows = [2, 3, 5].map((line) => ({
      id: `upload-7:${line}`,
      body: Buffer.from(JSON.stringify({ line, note: line === 3 ? "two\nlines" : "one line" })),
    }));
    await target.publish(rows);
    const worker = new WorkerProcess({ ...target.workerEnv(), HANDLER: APPEND_HANDLER, OUTPUT_FILE: output });
    try {
      await eventually(() => (readOutput(output).length >= rows.length ? true : undefined), {
        what: "every message written to the output file",
      });
      await eventually(async () => ((await target.backlog()) === 0 ? true : undefined), {
        what: "every message acknowledged",
      });
    } finally {
      await worker.stop();
    }
    const written = readOutput(output).sort((a, b) => a.id.localeCompare(b.id));
    expect(written.map((line) => line.id)).toEqual(rows.map((row) => row.id));
    expect(written.map((line) => line.body)).toEqual(rows.map((row) => row.body.toString()));
    expect(written.every((line) => line.attempt === 1)).toBe(true);
  });

  it("refuses to start without OUTPUT_FILE (exit 2, naming it)", async () => {
    const worker = new WorkerProcess({ ...target.workerEnv(), HANDLER: APPEND_HANDLER });
    const { code } = await worker.exited;
    expect(code).toBe(2);
    expect(worker.stderr).toContain("OUTPUT_FILE");
  });
});
