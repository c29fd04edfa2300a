import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "@queuescale/core";

export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * A real Prometheus server (the `prometheus` binary scripts/tools.sh installs) on a free loopback
 * port with its own temporary directory; stop() ends it and removes the directory. The monitoring
 * tests and `make demo SCALING=drain-time` (which evaluates the shipped recording rules) use it.
 */
export class PrometheusServer {
  private constructor(
    readonly baseUrl: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly output: string[],
  ) {}

  static async start(config: Record<string, unknown>): Promise<PrometheusServer> {
    const dir = mkdtempSync(join(tmpdir(), "queuescale-prometheus-"));
    const configFile = join(dir, "prometheus.yml");
    writeFileSync(configFile, stringify(config));
    const port = await freePort();
    const output: string[] = [];
    const child = spawn(
      "prometheus",
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--storage.tsdb.retention.time=1h",
        "--log.level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    const server = new PrometheusServer(`http://127.0.0.1:${port}`, child, dir, output);
    const spawned = new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", (error) =>
        reject(new Error(`prometheus did not start (run \`make tools\`): ${error.message}`, { cause: error })),
      );
    });
    try {
      await spawned;
      await server.waitReady();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`prometheus exited:\n${this.output.join("")}`);
      const ready = await fetch(`${this.baseUrl}/-/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`prometheus not ready after 30 s:\n${this.output.join("")}`);
  }

  /** An instant query; throws with Prometheus' own message when the expression does not parse. */
  async query(expr: string): Promise<VectorSample[]> {
    const response = await fetch(`${this.baseUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: VectorSample[] };
    };
    if (body.status !== "success") throw new Error(`query failed: ${body.error ?? response.status}\n${expr}`);
    if (body.data?.resultType !== "vector") throw new Error(`not an instant vector: ${expr}`);
    return body.data.result;
  }

  /** Label sets of the series matching a selector. */
  async series(selector: string): Promise<Array<Record<string, string>>> {
    const response = await fetch(`${this.baseUrl}/api/v1/series?${new URLSearchParams({ "match[]": selector })}`);
    const body = (await response.json()) as { status: string; data: Array<Record<string, string>> };
    if (body.status !== "success") throw new Error(`series query failed for ${selector}`);
    return body.data;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once("exit", resolve));
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
