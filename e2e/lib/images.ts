/**
 * The checks of the images `make images` built (buildah/podman storage), as a cluster would run them:
 * each starts as uid 65532 with a read-only root filesystem (only /tmp writable, as the overlays
 * mount it) and answers /healthz; `--help` works; no dev dependency and no TypeScript source of the
 * project is inside; each holds only its own workspace. e2e/images.ts prints them.
 */
import { execFile } from "node:child_process";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./paths.js";
import { freePort, waitFor } from "./wait.js";

const run = promisify(execFile);

export const COMPONENTS = ["exporter", "worker", "producer"] as const;
export type Component = (typeof COMPONENTS)[number];

/** Settings each program needs to start; the brokers point at a closed port, so nothing is created. */
const STARTUP_ENV: Record<Component, Record<string, string>> = {
  exporter: { RABBITMQ_MANAGEMENT_URL: "http://guest:guest@127.0.0.1:1" },
  worker: {
    BROKER: "rabbitmq",
    RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:1",
    QUEUE: "image-check",
    HANDLER: "/app/worker/examples/simulated-work.js",
  },
  producer: { BROKER: "rabbitmq", RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:1" },
};

export function imageName(component: Component, tag: string): string {
  return `localhost/queuescale-${component}:${tag}`;
}

/** podman with the containers.conf scripts/images.sh wrote for a sandbox with low rlimits. */
export async function podman(args: readonly string[]): Promise<string> {
  const conf = join(REPO_ROOT, ".tools", "images", "containers.conf");
  const env = { ...process.env };
  try {
    await stat(conf);
    env.CONTAINERS_CONF = conf;
  } catch {
    // The machine's own limits are fine.
  }
  const { stdout } = await run("podman", args, { env, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

interface Result {
  readonly image: string;
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Starts the image as a pod would (read-only root, /tmp a tmpfs, no capabilities) and probes it. */
async function checkRunning(component: Component, image: string, results: Result[]): Promise<void> {
  const port = await freePort();
  const env = { ...STARTUP_ENV[component], LISTEN_ADDRESS: `127.0.0.1:${port}` };
  const name = `queuescale-image-check-${component}-${process.pid}`;
  // The host's network namespace, so the probe reaches it on loopback and no bridge is created.
  const id = await podman([
    "run",
    "--detach",
    "--name",
    name,
    "--network",
    "host",
    "--read-only",
    "--read-only-tmpfs=false",
    "--tmpfs",
    "/tmp:rw,size=16m",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    ...Object.entries(env).flatMap(([key, value]) => ["--env", `${key}=${value}`]),
    image,
  ]);
  try {
    const pid = await podman(["inspect", "--format", "{{.State.Pid}}", id]);
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    const uids = /^Uid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/) ?? [];
    results.push({
      image,
      check: "runs as uid 65532",
      ok: uids.length > 0 && uids.every((uid) => uid === "65532"),
      detail: `uid (real, effective, saved, fs) ${uids.join(" ") || "unknown: the process exited"}`,
    });
    // A time-out is a failed check with the container's log, not an error of the whole run.
    const answer = await waitFor(
      async () => {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`);
        return response.ok ? `${response.status} ${(await response.text()).trim()}` : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: "/healthz" },
    ).catch(() => undefined);
    results.push({
      image,
      check: "answers /healthz with a read-only root filesystem",
      ok: answer !== undefined,
      detail: answer ?? (await podman(["logs", "--tail", "5", id]).catch(() => "no logs")),
    });
  } finally {
    await podman(["rm", "--force", "--time", "5", id]).catch(() => undefined);
  }
}

async function checkHelp(component: Component, image: string, results: Result[]): Promise<void> {
  try {
    const output = await podman(["run", "--rm", "--network", "none", "--read-only", image, "--help"]);
    results.push({
      image,
      check: "--help",
      ok: output.includes(`queuescale-${component}`),
      detail: output.split("\n")[0] ?? "",
    });
  } catch (error) {
    results.push({ image, check: "--help", ok: false, detail: String(error).slice(0, 200) });
  }
}

/**
 * What only development needs: every package the lockfile marks `dev` (a devDependency of the root
 * or of a workspace, and whatever only those pull in). A package a production dependency needs is
 * not one, whatever its name: protobufjs (under @grpc/grpc-js) depends on @types/node, so
 * `npm ci --omit=dev` installs it.
 */
async function devOnlyPackages(): Promise<Set<string>> {
  const lock = JSON.parse(await readFile(join(REPO_ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const names = new Set<string>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    const at = path.lastIndexOf("node_modules/");
    if (entry.dev && at >= 0) names.add(path.slice(at + "node_modules/".length));
  }
  // Never a runtime need, whoever lists them.
  for (const name of ["typescript", "tsx", "vitest", "eslint", "prettier"]) names.add(name);
  return names;
}

/** Files under dir (not following links), relative to it. */
async function walk(dir: string, prefix = ""): Promise<string[]> {
  const entries = await readdir(join(dir, prefix), { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) files.push(`${path}/`, ...(await walk(dir, path)));
    else files.push(path);
  }
  return files;
}

async function checkContents(component: Component, image: string, results: Result[]): Promise<void> {
  const root = await podman(["image", "mount", image]);
  try {
    const app = join(root, "app");
    const files = await walk(app);
    const ownSources = files.filter(
      (file) =>
        !file.startsWith("node_modules/") &&
        ((file.endsWith(".ts") && !file.endsWith(".d.ts")) || /(^|\/)src\/$/.test(file)),
    );
    results.push({
      image,
      check: "no TypeScript source of the project",
      ok: ownSources.length === 0,
      detail: ownSources.length === 0 ? `${files.length} entries under /app` : ownSources.slice(0, 5).join(", "),
    });
    const dev = await devOnlyPackages();
    const installed = files
      .filter((file) => file.startsWith("node_modules/") && file.endsWith("/package.json"))
      .map((file) => file.slice("node_modules/".length, -"/package.json".length))
      .filter((name) => !name.includes("/node_modules/"));
    const present = installed.filter((name) => dev.has(name));
    results.push({
      image,
      check: "no dev dependency",
      ok: present.length === 0,
      detail:
        present.length === 0 ? `${installed.length} packages, none of the ${dev.size} dev-only` : present.join(", "),
    });
    const others = COMPONENTS.filter((other) => other !== component && files.includes(`${other}/`));
    results.push({
      image,
      check: "only its own workspace",
      ok: others.length === 0 && files.includes(`${component}/dist/main.js`),
      detail: others.length === 0 ? `${component}/dist/main.js, core/dist` : `also ${others.join(", ")}`,
    });
  } finally {
    await podman(["image", "unmount", image]).catch(() => undefined);
  }
}

export async function checkImages(tag: string): Promise<{ results: Result[]; sizes: [string, number][] }> {
  const results: Result[] = [];
  const sizes: [string, number][] = [];
  for (const component of COMPONENTS) {
    const image = imageName(component, tag);
    sizes.push([image, Number(await podman(["image", "inspect", "--format", "{{.Size}}", image]))]);
    await checkRunning(component, image, results);
    await checkHelp(component, image, results);
    await checkContents(component, image, results);
  }
  return { results, sizes };
}

/** The worker image with a handler at /app/handler.js that the test overlay runs. */
export function workerHandlerImage(tag: string): string {
  return `localhost/queuescale-worker-e2e:${tag}`;
}

/**
 * Builds what the node needs beyond `make images`: the worker image with a handler (as users
 * build theirs) and the stand-in pause image. Both are small layers on images already present.
 */
export async function buildTestImages(tag: string, pauseImage: string): Promise<void> {
  await podman([
    "build",
    "--quiet",
    "--layers",
    "--build-arg",
    `WORKER_IMAGE=${imageName("worker", tag)}`,
    "-f",
    join(REPO_ROOT, "e2e", "images", "worker-handler.Containerfile"),
    "-t",
    workerHandlerImage(tag),
    REPO_ROOT,
  ]);
  await podman([
    "build",
    "--quiet",
    "--layers",
    "-f",
    join(REPO_ROOT, "e2e", "images", "pause.Containerfile"),
    "-t",
    pauseImage,
    join(REPO_ROOT, "e2e", "images"),
  ]);
}

/** One docker-archive holding the images (shared layers once), for `ctr images import`. */
export async function saveImages(path: string, images: readonly string[]): Promise<void> {
  await podman(["save", "--quiet", "--format", "docker-archive", "--multi-image-archive", "-o", path, ...images]);
}
