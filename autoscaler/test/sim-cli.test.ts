import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "autoscaler/dist/sim/main.js");
const HPA = fileURLToPath(new URL("./fixtures/hpa.yaml", import.meta.url));
const HPA_TEXT = readFileSync(HPA, "utf8");
let dir: string;

beforeAll(() => {
  // The tests run the compiled bin, as users do.
  execFileSync(join(ROOT, "node_modules/.bin/tsc"), ["-b", "autoscaler"], { cwd: ROOT, stdio: "pipe" });
  dir = mkdtempSync(join(tmpdir(), "queuescale-sim-"));
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function sim(args: string[], input = "") {
  const result = spawnSync(process.execPath, [BIN, ...args], { input, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs several invocations at once: each one spends most of its time starting Node. */
function simAll(runs: { args: string[]; input?: string }[]) {
  return Promise.all(
    runs.map(
      ({ args, input = "" }) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
          const child = spawn(process.execPath, [BIN, ...args]);
          let stdout = "";
          let stderr = "";
          child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
          child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
          child.on("error", reject);
          child.on("close", (status) => resolve({ status, stdout, stderr }));
          child.stdin.end(input);
        }),
    ),
  );
}

function decide(input: Record<string, unknown>) {
  const result = sim(["decide"], JSON.stringify(input));
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as { desiredReplicas: number; reason: string };
}

/** The HPA of the fixture as JSON, which `decide` reads inline. */
const hpaObject = parse(HPA_TEXT) as Record<string, unknown>;

describe("queuescale-sim", () => {
  it("is the package's bin, and --help prints the commands", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "autoscaler/package.json"), "utf8")) as {
      bin: Record<string, string>;
    };
    const bin = join(ROOT, "autoscaler", pkg.bin["queuescale-sim"]!);
    const result = spawnSync(process.execPath, [bin, "--help"], { encoding: "utf8" });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: queuescale-sim <command>/);
    for (const command of ["decide", "replay", "burst", "drain"]) expect(result.stdout).toContain(`  ${command} `);
  });

  it("without a command exits 2", () => {
    const result = sim([]);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      "queuescale-sim: invalid command: missing; use decide, replay, burst or drain (--help)\n",
    );
  });
});

describe("queuescale-sim decide", () => {
  it("3 replicas, 950 messages: proposal ceil(950/100) = 10, limited to max(3 + 4, 3 × 2) = 7", () => {
    const out = decide({ hpa: hpaObject, now: 0, currentReplicas: 3, metrics: [{ value: 950 }] });
    expect(out.desiredReplicas).toBe(7);
    expect(out.reason).toContain("proposal 10");
    expect(out.reason).toContain("ScaleUpLimit");
  });

  it("holds 10 while a recommendation of 10 is inside the 300 s window, then steps down 10 % (trunc 9)", () => {
    const base = { hpa: hpaObject.spec, now: 600, currentReplicas: 10, metrics: [{ value: 200 }] };
    const held = decide({ ...base, recommendations: [{ t: 400, replicas: 10 }] });
    expect(held.desiredReplicas).toBe(10);
    expect(held.reason).toContain("ScaleDownStabilized");
    // t=290 is 310 s old: out of the window; proposal 2, floor trunc(10 × 0.9) = 9.
    expect(decide({ ...base, recommendations: [{ t: 290, replicas: 10 }] }).desiredReplicas).toBe(9);
    // 2 removed at t=560 are inside the 60 s period: start 12, floor trunc(12 × 0.9) = 10 → hold.
    const limited = decide({
      ...base,
      recommendations: [{ t: 290, replicas: 10 }],
      scaleDownEvents: [{ t: 560, change: 2 }],
    });
    expect(limited.desiredReplicas).toBe(10);
    expect(limited.reason).toContain("ScaleDownLimit");
  });

  it("an unavailable metric holds the count: never read as an empty queue", () => {
    const out = decide({ hpa: hpaObject, now: 0, currentReplicas: 6, metrics: [null] });
    expect(out.desiredReplicas).toBe(6);
    expect(out.reason).toMatch(/^FailedComputeMetricsReplicas: invalid metrics \(1 invalid out of 1\)/);
  });

  it("bad input exits 2 with one line naming the field", async () => {
    const cases: [unknown, string][] = [
      [{ hpa: hpaObject, now: 0, currentReplicas: -1, metrics: [null] }, "currentReplicas"],
      [{ hpa: hpaObject, now: 0, currentReplicas: 1, metrics: [] }, "metrics"],
      [{ hpa: hpaObject, now: 0, currentReplicas: 1, metrics: [{ podValues: [1] }] }, "metrics[0]"],
      [
        {
          hpa: { ...hpaObject, spec: { ...(hpaObject.spec as object), maxReplicas: "many" } },
          now: 0,
          currentReplicas: 1,
          metrics: [null],
        },
        "hpa.spec.maxReplicas",
      ],
    ];
    const results = await simAll(cases.map(([input]) => ({ args: ["decide"], input: JSON.stringify(input) })));
    for (const [index, [, field]] of cases.entries()) {
      const result = results[index]!;
      expect(result.status).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(`queuescale-sim: invalid ${field}: `);
    }
    const notJson = sim(["decide"], "{nope");
    expect(notJson.status).toBe(2);
    expect(notJson.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});

// One sync per 15 s; the 60 and 75 s rows are a metrics outage.
const TRACE = "t,value\n0,0\n15,450\n30,2000\n45,2000\n60,\n75,\n90,300\n105,0\n";
// t=0: 0 → proposal 0, held at 1 by the initial recommendation (and minReplicas).
// t=15: ceil(450/100) = 5; limit max(1 + 4, 1 × 2) = 5.
// t=30: proposal 20; the +4 at t=15 is exactly 15 s old, so the period starts at 5: max(9, 10) = 10.
// t=45: max(10 + 4, 10 × 2) = 20. t=60, 75: no metric → hold 20.
// t=90, 105: proposals 3 and 0, but 20 was recommended within 300 s → 20.
const EXPECTED_REPLAY = [
  "t,value,desired,replicas",
  "0,0,0,1",
  "15,450,5,5",
  "30,2000,20,10",
  "45,2000,20,20",
  "60,,,20",
  "75,,,20",
  "90,300,3,20",
  "105,0,0,20",
];

describe("queuescale-sim replay", () => {
  it("replays a trace through the sample HPA, one CSV row per sync", () => {
    writeFileSync(join(dir, "trace.csv"), TRACE);
    const result = sim(["replay", "--hpa", HPA, "--trace", join(dir, "trace.csv")]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout.trimEnd().split("\n")).toEqual(EXPECTED_REPLAY);
  });

  it("a longer sync period reads the latest row at or before each sync: 30 s → t=0, 30, 60, 90", () => {
    writeFileSync(join(dir, "trace.csv"), TRACE);
    const result = sim(["replay", "--hpa", HPA, "--trace", join(dir, "trace.csv"), "--sync-period", "30"]);
    // t=30: ceil(2000/100) = 20, limit from 1: max(5, 2) = 5; t=60: outage → 5; t=90: 300 → 3, window holds 20 → 5.
    expect(result.stdout.trimEnd().split("\n")).toEqual([
      "t,value,desired,replicas",
      "0,0,0,1",
      "30,2000,20,5",
      "60,,,5",
      "90,300,3,5",
    ]);
  });

  it("picks the HPA out of a multi-document stream on stdin, by --name when there are several", () => {
    writeFileSync(join(dir, "trace.csv"), TRACE);
    const other = HPA_TEXT.replace("name: queuescale-worker\nspec:", "name: other\nspec:").replace(
      'averageValue: "100"',
      'averageValue: "50"',
    );
    const deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: queuescale-worker\n";
    const stream = [deployment, HPA_TEXT, other].join("\n---\n");
    const ambiguous = sim(["replay", "--hpa", "-", "--trace", join(dir, "trace.csv")], stream);
    expect(ambiguous.status).toBe(2);
    expect(ambiguous.stderr).toBe(
      "queuescale-sim: invalid --name: required: the input holds several HorizontalPodAutoscalers (queuescale-worker, other)\n",
    );
    const picked = sim(
      ["replay", "--hpa", "-", "--trace", join(dir, "trace.csv"), "--name", "queuescale-worker"],
      stream,
    );
    expect(picked.stdout.trimEnd().split("\n")).toEqual(EXPECTED_REPLAY);
    // The other HPA targets 50 per replica: t=15 proposes ceil(450/50) = 9.
    const halved = sim(["replay", "--hpa", "-", "--trace", join(dir, "trace.csv"), "--name", "other"], stream);
    expect(halved.stdout.split("\n")[2]).toBe("15,450,9,5");
  });

  it("replays the HPA rendered from the RabbitMQ overlay (kubectl kustomize | replay --hpa -)", () => {
    const overlay = join(ROOT, "k8s/overlays/rabbitmq");
    expect(existsSync(overlay)).toBe(true);
    const rendered = execFileSync("kubectl", ["kustomize", overlay], { encoding: "utf8" });
    writeFileSync(join(dir, "trace.csv"), TRACE);
    const result = sim(["replay", "--hpa", "-", "--trace", join(dir, "trace.csv")], rendered);
    expect(result.stderr).toBe("");
    // The overlay's HPA carries the same target and behavior as the sample, so the same numbers.
    expect(result.stdout.trimEnd().split("\n")).toEqual(EXPECTED_REPLAY);
  });

  it("draws an SVG chart with the depth, desired and replicas series on their own axes", () => {
    writeFileSync(join(dir, "trace.csv"), TRACE);
    const chart = join(dir, "replay.svg");
    const result = sim(["replay", "--hpa", HPA, "--trace", join(dir, "trace.csv"), "--chart", chart]);
    expect(result.status).toBe(0);
    const svg = readFileSync(chart, "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("with 3 values: depth, desired, replicas");
    // Axis domains follow the data: depth peaks at 2000, replicas at 20.
    expect(svg).toContain("Y-axis titled 'queue depth (messages)' for a linear scale with values from 0 to 2,000");
    expect(svg).toContain("Y-axis titled 'replicas' for a linear scale with values from 0 to 20");
    // One line each for depth (the area's edge), desired and replicas.
    expect(svg.match(/aria-roledescription="line mark"/g)).toHaveLength(3);
  });

  it("rejects bad flags and traces with exit 2 and one line", async () => {
    writeFileSync(join(dir, "bad.csv"), "t,value\n0,10\n15,lots\n");
    writeFileSync(join(dir, "trace.csv"), TRACE);
    const cases: [string[], string][] = [
      [["replay", "--hpa", HPA], "--trace"],
      [["replay", "--hpa", HPA, "--trace", join(dir, "bad.csv")], "--trace: row 2: value"],
      [["replay", "--hpa", HPA, "--trace", join(dir, "missing.csv")], "--trace: cannot read"],
      [["replay", "--hpa", HPA, "--trace", join(dir, "bad.csv"), "--chart", "x.jpg"], "--chart"],
      [["replay", "--hpa", HPA, "--trace", join(dir, "trace.csv"), "--sync-period", "0"], "--sync-period"],
      [["replay", "--hpa", HPA, "--trace", join(dir, "trace.csv"), "--bogus"], "--bogus"],
      [["frobnicate"], "command"],
    ];
    const results = await simAll(cases.map(([args]) => ({ args })));
    for (const [index, [, field]] of cases.entries()) {
      const result = results[index]!;
      expect(result.status).toBe(2);
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(`invalid ${field}`);
    }
  });
});

describe("queuescale-sim burst", () => {
  // 1000 messages at t=0; 10 msg/s per replica; pods ready at once; depth seen at each 15 s sync.
  const args = [
    "burst",
    "--hpa",
    HPA,
    "--burst",
    "1000@0",
    "--throughput",
    "10",
    "--startup",
    "0",
    "--adapter-delay",
    "0",
    "--duration",
    "120",
    "--json",
  ];

  it("reports drain time, peak, replica-seconds and flaps for the HPA and the instant oracle", () => {
    const result = sim(args);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const out = JSON.parse(result.stdout) as Record<string, Record<string, number | null>>;
    // HPA: 1 replica drains 10/s, so the t=15 scrape sees 1000 − 150 = 850 → ceil(8.5) = 9, limited
    // to 1 + 4 = 5. 5 × 10/s clears the 850 − 50 = 800 left by the end of t=30 … 100 at t=30, 50 at t=31:
    // drained at 31 s. The 300 s window keeps 5: 15 × 1 + 105 × 5 = 540 replica-seconds, no flap.
    expect(out.hpa).toEqual({ drainSeconds: 31, peakReplicas: 5, replicaSeconds: 540, flaps: 0 });
    // Oracle: ceil(work / 100) each second, ready at once: 10, 9, 9, 8, 7, 6, 6, 5, 4, 4, 4, 3, 3, 3,
    // 2 × 5, then 1: the queue (900, 810, 720, …, 90, 80) empties at the end of t=27;
    // replica-seconds 91 for t=0..18 plus 101 × 1 = 192.
    expect(out.oracle).toEqual({ drainSeconds: 27, peakReplicas: 10, replicaSeconds: 192, flaps: 0 });
  });

  it("prints a readable summary without --json", () => {
    const result = sim(args.filter((arg) => arg !== "--json"));
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^time to drain\s+31 s\s+27 s$/m);
    expect(result.stdout).toMatch(/^peak replicas\s+5\s+10$/m);
    expect(result.stdout).toMatch(/^replica-seconds\s+540\s+192$/m);
  });

  it("writes a PNG chart", () => {
    const chart = join(dir, "burst.png");
    const result = sim([...args, "--chart", chart]);
    expect(result.status).toBe(0);
    const png = readFileSync(chart);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.subarray(12, 16).toString("latin1")).toBe("IHDR");
    // 800 × 320 plot plus axes, legend and title, rendered at 2×.
    expect(png.readUInt32BE(16)).toBeGreaterThan(1600);
    expect(png.readUInt32BE(20)).toBeGreaterThan(640);
    expect(png.subarray(-8, -4).toString("latin1")).toBe("IEND");
  });

  it("rejects a malformed workload with exit 2", async () => {
    const cases = [
      [["--burst", "lots"], "--burst"],
      [["--rate", "50@600-0"], "--rate"],
      [[], "--burst"],
    ] as const;
    const results = await simAll(cases.map(([flags]) => ({ args: ["burst", "--hpa", HPA, ...flags] })));
    for (const [index, [, field]] of cases.entries()) {
      const result = results[index]!;
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(`invalid ${field}`);
    }
  });
});

describe("queuescale-sim drain", () => {
  const exact = (value: number) => ({ median: value, min: value, max: value });

  it("the oracle on 600 messages at 2 messages/s per replica and T = 60 s: 5 replicas for 60 s", () => {
    const result = sim([
      "drain",
      "--hpa",
      HPA,
      ...["--burst", "600@0", "--handler-seconds", "0.5", "--concurrency", "1", "--drain-target", "60"],
      ...["--duration", "100", "--runs", "2", "--json"],
    ]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const out = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ workload: "600 messages at t=0 s", fixedTarget: 100, floorTarget: 100, runs: 2 });
    // Pace 600 / 60 = 10 messages/s → 5 replicas, 10 messages starting in each of seconds 0–59:
    // 95 % (570) have waited at most 56 s; 5 × 60 + 1 × 40 replica-seconds.
    expect(out.oracle).toEqual({
      overTargetShare: exact(0),
      p95WaitSeconds: exact(56),
      replicaSeconds: exact(340),
      peakReplicas: exact(5),
      unfinished: exact(0),
    });
  });

  it("10 replicas that keep up with 10 messages/s: both HPAs hold them (the window, the absent metric)", () => {
    const result = sim([
      "drain",
      "--hpa",
      HPA,
      ...["--rate", "10@0-30", "--handler-seconds", "1", "--concurrency", "1", "--drain-target", "10"],
      ...["--startup", "0", "--poll-interval", "1", "--scrape-interval", "1", "--rule-interval", "1"],
      ...["--sync-period", "5", "--handler-window", "5", "--arrival-window", "5"],
      ...["--duration", "30", "--initial-replicas", "10", "--runs", "3", "--json"],
    ]);
    expect(result.status).toBe(0);
    const out = JSON.parse(result.stdout) as Record<string, unknown>;
    const held = {
      overTargetShare: exact(0),
      p95WaitSeconds: exact(0),
      replicaSeconds: exact(300),
      peakReplicas: exact(10),
      unfinished: exact(0),
    };
    expect(out.fixed).toEqual(held);
    expect(out.drain).toEqual(held);
  });

  it("prints the three side by side, and the same figures for the same seed", async () => {
    const args = ["drain", "--hpa", HPA, "--scenario", "slowdown", "--runs", "3", "--seed", "5"];
    const [first, second] = await simAll([{ args }, { args }]);
    expect(first!.status).toBe(0);
    expect(first!.stdout).toBe(second!.stdout);
    expect(first!.stdout).toMatch(/^workload: 20\/s all along, the handler 10× slower from t=300 s/m);
    expect(first!.stdout).toMatch(/^\s+fixed target \(100\/replica\)\s+drain time \(floor 100\/replica\)\s+oracle$/m);
    for (const row of ["share of time over T", "p95 wait", "replica-seconds", "peak replicas"]) {
      expect(first!.stdout).toMatch(new RegExp(`^${row}  `, "m"));
    }
  });

  it("rejects bad flags with exit 2 naming the flag", async () => {
    const cases = [
      [["--scenario", "tsunami"], "--scenario"],
      [["--scenario", "burst", "--burst", "10"], "--scenario"],
      [["--burst", "10", "--handler-seconds", "0"], "--handler-seconds"],
      [["--burst", "10", "--handler-seconds", "4@300"], "--handler-seconds"],
      [["--burst", "10", "--concurrency", "0"], "--concurrency"],
      [["--burst", "10", "--drain-target", "1.5"], "--drain-target"],
      [["--burst", "10", "--runs", "0"], "--runs"],
      [["--burst", "10", "--floor-target", "0"], "--floor-target"],
      [["--rule-interval", "10"], "--burst"],
    ] as const;
    const results = await simAll(cases.map(([flags]) => ({ args: ["drain", "--hpa", HPA, ...flags] })));
    for (const [index, [, field]] of cases.entries()) {
      const result = results[index]!;
      expect(result.status).toBe(2);
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(`invalid ${field}`);
    }
  });
});
