import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The built queuescale-worker of the installed @queuescale/worker package, run with this Node. */
export function defaultWorkerCommand(): string {
  const workerPackage = createRequire(import.meta.url).resolve("@queuescale/worker/package.json");
  return `${process.execPath} ${join(dirname(workerPackage), "dist", "main.js")}`;
}
