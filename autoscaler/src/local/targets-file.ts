import { renameSync, writeFileSync } from "node:fs";

/**
 * The workers' metrics addresses as a Prometheus `file_sd_configs` file, so a Prometheus next to
 * queuescale-local scrapes each worker as it would find pods through Kubernetes service discovery.
 * Written to a temporary name and renamed, so Prometheus never reads half a file.
 */
export function writeTargetsFile(path: string, targets: readonly string[]): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, `${JSON.stringify([{ targets: [...targets].sort(), labels: {} }])}\n`);
  renameSync(temporary, path);
}
