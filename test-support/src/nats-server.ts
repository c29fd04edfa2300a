import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInbox, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { freePort } from "@queuescale/core";

/**
 * A throwaway nats-server with JetStream and the monitoring port, for tests and benchmarks that
 * need what the shared broker does not offer (`/jsz`, a cluster). Listens on loopback only, on
 * ports the server picks itself (read back from its ports file, so two runs never race for a
 * port), and keeps its store in a temporary directory that stop() removes.
 */
export interface NatsTestServer {
  /** `nats://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** `http://127.0.0.1:PORT`. */
  readonly monitorUrl: string;
  readonly monitorPort: number;
  /** `nats://127.0.0.1:PORT` of the route listener, when clustered. */
  readonly clusterUrl: string | undefined;
  readonly serverName: string;
  stop(): Promise<void>;
}

export interface NatsServerOptions {
  serverName?: string;
  /** Joins a cluster: its name, this member's route listener URL and every member's route URL. */
  cluster?: { name: string; listen: string; routes: readonly string[] };
  /** Extra command-line arguments. */
  args?: readonly string[];
  /** The nats-server binary. Default NATS_SERVER_BIN, else `nats-server` from PATH. */
  binary?: string;
  /** How long to wait for the server to answer. Default 15 s. */
  startTimeoutMs?: number;
}

/** The binary: NATS_SERVER_BIN, else `nats-server` from PATH. */
function serverBinary(): string {
  return process.env.NATS_SERVER_BIN ?? "nats-server";
}

/**
 * The nats-server versions the project supports, for tests that run the same scenarios on each:
 * Debian's 2.9 package (on PATH) and the 2.10 that scripts/tools.sh builds into .tools/bin (the
 * version the dev overlay runs).
 */
export const SUPPORTED_NATS_SERVERS = [
  { version: "2.9", binary: "nats-server" },
  { version: "2.10", binary: fileURLToPath(new URL("../../.tools/bin/nats-server", import.meta.url)) },
] as const;

/** What `binary --version` prints (`v2.10.27`); throws, saying how to get it, when it is missing. */
export function natsServerVersion(binary: string): string {
  try {
    return execFileSync(binary, ["--version"], { encoding: "utf8" })
      .replace(/^nats-server:\s*/, "")
      .trim();
  } catch (error) {
    throw new Error(`cannot run ${binary}: run \`make tools\` (scripts/tools.sh)`, { cause: error });
  }
}

interface PortsFile {
  nats?: string[];
  monitoring?: string[];
  cluster?: string[];
}

function portOf(urls: string[] | undefined, what: string): number {
  const url = urls?.[0];
  if (!url) throw new Error(`nats-server ports file lists no ${what} port`);
  return Number(new URL(url).port);
}

async function readPortsFile(dir: string): Promise<PortsFile | undefined> {
  const name = (await readdir(dir)).find((file) => file.endsWith(".ports"));
  if (!name) return undefined;
  try {
    return JSON.parse(await readFile(join(dir, name), "utf8")) as PortsFile;
  } catch {
    // Seen half-written; the next look finds it whole.
    return undefined;
  }
}

async function isHealthy(monitorUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${monitorUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

interface SpawnedServer {
  server: NatsTestServer;
  /** Resolves once /healthz answers 200 (for a cluster member: once JetStream has a meta leader). */
  healthy(timeoutMs: number): Promise<void>;
}

/** Starts the process and waits for its ports file; health is awaited separately. */
async function spawnServer(options: NatsServerOptions): Promise<SpawnedServer> {
  const dir = await mkdtemp(join(tmpdir(), "queuescale-nats-"));
  const serverName = options.serverName ?? `qs-${process.pid}-${Date.now().toString(36)}`;
  const args = ["-js", "-a", "127.0.0.1", "-p", "-1", "-m", "-1", "-sd", join(dir, "store")];
  args.push("--server_name", serverName, "--ports_file_dir", dir);
  if (options.cluster) {
    args.push("--cluster_name", options.cluster.name, "--cluster", options.cluster.listen);
    if (options.cluster.routes.length > 0) args.push("--routes", options.cluster.routes.join(","));
  }
  args.push(...(options.args ?? []));

  const child = spawn(options.binary ?? serverBinary(), args, { stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    // The tail is enough to say why a start failed.
    output = (output + chunk).slice(-4000);
  });
  let spawnError: Error | undefined;
  child.once("error", (error) => {
    spawnError = error;
  });
  const stop = async () => {
    child.kill("SIGTERM");
    await waitForExit(child, 5000);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  const failure = async (reason: string) => {
    await stop();
    return new Error(`cannot start nats-server ${serverName}: ${reason}\n${output}`);
  };
  const alive = () => {
    if (spawnError) return spawnError.message;
    if (child.exitCode !== null) return `exited with ${child.exitCode}`;
    return undefined;
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  let ports: PortsFile | undefined;
  for (;;) {
    const dead = alive();
    if (dead) throw await failure(dead);
    ports = await readPortsFile(dir);
    if (ports?.nats && ports.monitoring && (!options.cluster || ports.cluster)) break;
    if (Date.now() > deadline) throw await failure("no ports file in time");
    await sleep(25);
  }
  const port = portOf(ports.nats, "client");
  const monitorPort = portOf(ports.monitoring, "monitoring");
  const server: NatsTestServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    monitorPort,
    clusterUrl: options.cluster ? `nats://127.0.0.1:${portOf(ports.cluster, "cluster")}` : undefined,
    serverName,
    stop,
  };
  return {
    server,
    async healthy(timeoutMs) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const dead = alive();
        if (dead) throw await failure(dead);
        if (await isHealthy(server.monitorUrl)) return;
        if (Date.now() > until) throw await failure("not healthy in time");
        await sleep(50);
      }
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One server with JetStream and monitoring, healthy when this resolves. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsTestServer> {
  const spawned = await spawnServer(options);
  await spawned.healthy(options.startTimeoutMs ?? 15_000);
  return spawned.server;
}

export interface NatsTestCluster {
  readonly servers: readonly NatsTestServer[];
  stop(): Promise<void>;
}

/**
 * A JetStream cluster of `size` servers on loopback. Clustered JetStream will not start without
 * routes, so the route ports are chosen before any member starts (each member lists them all; a
 * route to itself is ignored). Resolves once every member is healthy, i.e. JetStream has elected
 * its meta leader.
 */
export async function startNatsCluster(
  size = 3,
  name = `qs-${process.pid}-${Date.now().toString(36)}`,
  options: Pick<NatsServerOptions, "binary"> = {},
): Promise<NatsTestCluster> {
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`);
  const started = await Promise.allSettled(
    routePorts.map((port, index) =>
      spawnServer({
        serverName: `${name}-${index}`,
        cluster: { name, listen: routes[index]!, routes },
        binary: options.binary,
      }),
    ),
  );
  const spawned = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const stop = async () => {
    await Promise.all(spawned.map((member) => member.server.stop()));
  };
  try {
    const failed = started.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
    await Promise.all(spawned.map((member) => member.healthy(30_000)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { servers: spawned.map((member) => member.server), stop };
}

/* ---- JetStream moves tests set up with plain requests, so they control exactly what is pending ---- */

/**
 * Sends pull requests to a pull consumer and leaves them waiting on the server (the consumer's
 * `num_waiting`) until they expire. Returns the inbox subscription; unsubscribe when done.
 */
export function leavePullsWaiting(
  nc: NatsConnection,
  stream: string,
  consumer: string,
  count: number,
  expiresMs = 60_000,
): Subscription {
  const inbox = createInbox();
  const subscription = nc.subscribe(inbox);
  for (let index = 0; index < count; index++) {
    nc.publish(
      `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
      JSON.stringify({ batch: 1, expires: expiresMs * 1e6 }),
      {
        reply: inbox,
      },
    );
  }
  return subscription;
}

/**
 * Receives `count` messages from a pull consumer and acknowledges the first `ack` of them; the
 * others stay delivered and unacknowledged until their ack wait runs out.
 */
export async function receiveMessages(
  nc: NatsConnection,
  stream: string,
  consumer: string,
  count: number,
  { ack = 0, timeoutMs = 10_000 } = {},
): Promise<void> {
  const inbox = createInbox();
  const subscription = nc.subscribe(inbox, { max: count, timeout: timeoutMs });
  nc.publish(
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
    JSON.stringify({ batch: count, expires: timeoutMs * 1e6 }),
    {
      reply: inbox,
    },
  );
  let received = 0;
  for await (const message of subscription) {
    // Status messages (408 request timeout, …) carry no reply subject.
    if (!message.reply) continue;
    if (received < ack) nc.publish(message.reply, "+ACK");
    received++;
  }
  if (received < count) throw new Error(`received ${received} of ${count} messages from ${stream}/${consumer}`);
  await nc.flush();
}
