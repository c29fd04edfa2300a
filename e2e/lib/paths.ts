import { access } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is e2e/lib/paths.ts). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Where scripts/e2e-tools.sh puts the binaries it builds. */
export const TOOLS_BIN = join(REPO_ROOT, ".tools", "bin");

export const CONTROL_PLANE_TOOLS = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kubelet",
  "prometheus-adapter",
  // Prometheus 3 with Kubernetes service discovery, named so it never shadows Debian's prometheus.
  "prometheus3",
  "helm",
  // `ENGINE=keda`: KEDA's operator and its metrics API server (the module's cmd/operator, cmd/adapter).
  "keda-operator",
  "keda-adapter",
] as const;

/** What the node runs, from Debian packages (scripts/image-tools.sh installs them). */
export const NODE_COMMANDS = ["containerd", "ctr", "runc", "podman", "buildah", "ip", "iptables"] as const;
export type ControlPlaneTool = (typeof CONTROL_PLANE_TOOLS)[number];

export function toolPath(tool: ControlPlaneTool): string {
  return join(TOOLS_BIN, tool);
}

/** What only `ENGINE=keda` runs: the adapter mode does not wait for KEDA's (long) build. */
export const KEDA_TOOLS: readonly ControlPlaneTool[] = ["keda-operator", "keda-adapter"];

/** Names the tools that are missing, so the run fails with what to do instead of a spawn error. */
export async function missingTools(engine: "adapter" | "keda"): Promise<string[]> {
  const missing: string[] = [];
  const needed = CONTROL_PLANE_TOOLS.filter((tool) => engine === "keda" || !KEDA_TOOLS.includes(tool));
  for (const tool of needed) {
    try {
      await access(toolPath(tool));
    } catch {
      missing.push(tool);
    }
  }
  return missing;
}
