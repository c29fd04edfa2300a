import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort, waitFor } from "@queuescale/core";

/** The built producer the benchmarks run (`npm run build` first). */
export const PRODUCER_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/** Starts the built producer on a free loopback port with `env` and waits for /readyz. */
export async function startBenchProducer(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [PRODUCER_MAIN], {
    env: { ...process.env, LOG_LEVEL: "warn", ...env, LISTEN_ADDRESS: `127.0.0.1:${port}` },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      const ready = await fetch(`${url}/readyz`).then(
        (response) => response.ok,
        () => false,
      );
      return ready ? true : undefined;
    },
    {
      timeoutMs: 20_000,
      what: "the producer to become ready",
      abort: () => (child.exitCode !== null ? `producer exited with ${child.exitCode}` : undefined),
    },
  );
  return { url, child };
}
