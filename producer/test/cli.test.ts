import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "@queuescale/test-support/names";
import { HARNESSED_BROKERS, harnessOf, type ProducerTarget } from "@queuescale/test-support/brokers";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSX = join(ROOT, "node_modules", ".bin", "tsx");
const MAIN = join(ROOT, "producer", "src", "main.ts");

interface Run {
  readonly child: ReturnType<typeof spawn>;
  readonly exited: Promise<{ code: number | null; stderr: string }>;
}

/** Runs the CLI from its sources (core resolved to its sources too, as in the tests). */
function runCli(args: string[], env: Record<string, string>, stdin?: string): Run {
  const child = spawn(TSX, [MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, "tsconfig.test.json"), LOG_LEVEL: "warn", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.resume();
  if (stdin !== undefined) child.stdin!.end(stdin);
  else child.stdin!.end();
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.once("exit", (code) => resolve({ code, stderr })),
  );
  return { child, exited };
}

describe.each(HARNESSED_BROKERS)("queuescale-producer CLI on %s", (brokerName) => {
  let harness: ProducerTarget;
  let dir: string;

  beforeAll(async () => {
    harness = await harnessOf(brokerName).producerTarget();
    dir = await mkdtemp(join(tmpdir(), "qs-producer-cli-"));
  });

  afterAll(async () => {
    await harness?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("publish --file: every line arrives, in order, and it exits 0", async () => {
    const queue = await harness.createQueue();
    // More lines than one internal batch, mixing JSON and plain text; the empty line is skipped.
    const lines = Array.from({ length: 1203 }, (_, index) =>
      index % 3 === 0 ? JSON.stringify({ line: index }) : `plain text line ${index}`,
    );
    const file = join(dir, "lines.txt");
    await writeFile(file, `${lines.slice(0, 600).join("\n")}\n\n${lines.slice(600).join("\n")}\n`);

    const { code, stderr } = await runCli(["publish", "--queue", queue, "--file", file], harness.settings()).exited;
    expect(code, stderr).toBe(0);
    expect(stderr).toContain(`published ${lines.length} messages to ${queue}`);
    expect(await harness.count(queue)).toBe(lines.length);
    const stored = await harness.drain(queue, lines.length);
    expect(stored.map((message) => message.body)).toEqual(lines);
  });

  it("publish --file data.csv: one JSON message per row with ids <upload id>:<line>; a bad row stops it, --from-line resumes", async () => {
    const queue = await harness.createQueue();
    const header = "sku,label";
    const rows = Array.from({ length: 1100 }, (_, index) => ({ sku: `s-${index}`, label: `item, number ${index}` }));
    const good = [header, ...rows.map((row) => `${row.sku},"${row.label}"`)];
    const badLine = 700;
    const bad = good.map((text, index) => (index + 1 === badLine ? 'broken,"unclosed' : text));
    const file = join(dir, "data.csv");
    await writeFile(file, `${bad.join("\n")}\n`);

    const first = await runCli(
      ["publish", "--queue", queue, "--file", file, "--upload-id", "cli-up"],
      harness.settings(),
    ).exited;
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr).toContain(`line ${badLine}`);
    expect(first.stderr).toContain(`--from-line ${badLine} --upload-id cli-up`);
    expect(await harness.count(queue)).toBe(badLine - 2);

    await writeFile(file, `${good.join("\n")}\n`);
    const resumed = await runCli(
      ["publish", "--queue", queue, "--file", file, "--upload-id", "cli-up", "--from-line", String(badLine)],
      harness.settings(),
    ).exited;
    expect(resumed.code, resumed.stderr).toBe(0);
    // Not a terminal: one summary line, no progress bar.
    expect(resumed.stderr.trim().split("\n")).toHaveLength(1);
    expect(resumed.stderr).toContain(`published ${rows.length - (badLine - 2)} messages to ${queue}`);
    const stored = await harness.drain(queue, rows.length);
    expect(stored.map((message) => JSON.parse(message.body) as unknown)).toEqual(rows);
    expect(stored.map((message) => message.id)).toEqual(rows.map((_, index) => `cli-up:${index + 2}`));
  });

  it("publish --format ndjson reads standard input as JSON lines", async () => {
    const queue = await harness.createQueue();
    const values = [{ a: 1 }, [2], "three"];
    const { code, stderr } = await runCli(
      ["publish", "--queue", queue, "--format", "ndjson"],
      harness.settings(),
      `${values.map((value) => JSON.stringify(value)).join("\n")}\n`,
    ).exited;
    expect(code, stderr).toBe(0);
    const stored = await harness.drain(queue, values.length);
    expect(stored.map((message) => JSON.parse(message.body) as unknown)).toEqual(values);
    expect(stored.every((message) => message.contentType === "application/json")).toBe(true);
  });

  it("refuses an unknown --format and a --from-line that is not a line (exit 2)", async () => {
    for (const [flag, value] of [
      ["--format", "xml"],
      ["--from-line", "0"],
    ]) {
      const { code, stderr } = await runCli(["publish", "--queue", "q", flag!, value!], harness.settings()).exited;
      expect(code, stderr).toBe(2);
      expect(stderr).toContain(flag);
    }
  });

  it("publish reads standard input with --file -", async () => {
    const queue = await harness.createQueue();
    const lines = ["first", "second", "third"];
    const { code, stderr } = await runCli(
      ["publish", "--queue", queue, "--file", "-"],
      harness.settings(),
      `${lines.join("\n")}\n`,
    ).exited;
    expect(code, stderr).toBe(0);
    expect((await harness.drain(queue, lines.length)).map((message) => message.body)).toEqual(lines);
  });

  it("publish to a queue that does not exist exits 1 and creates nothing", async () => {
    const missing = harness.missingQueue();
    const file = join(dir, "one.txt");
    await writeFile(file, "one\n");
    const { code, stderr } = await runCli(["publish", "--queue", missing, "--file", file], harness.settings()).exited;
    expect(code).toBe(1);
    expect(stderr).toContain("not found");
    expect(await harness.exists(missing)).toBe(false);
  });

  it("trickle publishes every interval until SIGINT, then exits 0", async () => {
    const queue = await harness.createQueue();
    const run = runCli(["trickle", "--queue", queue, "--interval", "50ms"], harness.settings());
    try {
      await eventually(async () => ((await harness.count(queue)) >= 3 ? true : undefined), {
        timeoutMs: 20_000,
        what: "three trickled messages",
      });
    } finally {
      run.child.kill("SIGINT");
    }
    const { code, stderr } = await run.exited;
    expect(code, stderr).toBe(0);
    const count = await harness.count(queue);
    const sequence = (await harness.drain(queue, count)).map(
      (message) => (JSON.parse(message.body) as { seq: number }).seq,
    );
    expect(sequence).toEqual(Array.from({ length: count }, (_, index) => index + 1));
  });

  it("exits 2 naming the setting when the configuration is bad", async () => {
    const { code, stderr } = await runCli(["publish", "--queue", "q"], {
      ...harness.settings(),
      MAX_BODY_BYTES: "lots",
    }).exited;
    expect(code).toBe(2);
    expect(stderr).toContain("MAX_BODY_BYTES");
  });
});
