import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import type { KeyPair } from "./pki.js";

/** A kubeconfig for `server` with a client certificate. */
export async function writeKubeconfig(path: string, server: string, caCert: string, user: KeyPair): Promise<void> {
  const text = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: e2e",
    "    cluster:",
    `      server: ${server}`,
    `      certificate-authority: ${caCert}`,
    "users:",
    "  - name: admin",
    "    user:",
    `      client-certificate: ${user.cert}`,
    `      client-key: ${user.key}`,
    "contexts:",
    "  - name: e2e",
    "    context: { cluster: e2e, user: admin }",
    "current-context: e2e",
    "",
  ].join("\n");
  await writeFile(path, text, { mode: 0o600 });
}

export class KubectlError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly stderr: string,
  ) {
    super(`kubectl ${args.join(" ")}: ${stderr.trim() || "failed"}`);
  }
}

/** kubectl (from PATH) against the run's cluster only: every call names the run's kubeconfig. */
export class Kubectl {
  constructor(readonly kubeconfig: string) {}

  run(args: readonly string[], input?: string): Promise<string> {
    const fullArgs = ["--kubeconfig", this.kubeconfig, ...args];
    return new Promise((resolve, reject) => {
      const child = execFile(
        "kubectl",
        fullArgs,
        { maxBuffer: 32 * 1024 * 1024, timeout: 60_000 },
        (error, stdout, stderr) => {
          if (error) reject(new KubectlError(args, stderr || error.message));
          else resolve(stdout);
        },
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  async json<T>(args: readonly string[]): Promise<T> {
    return JSON.parse(await this.run([...args, "-o", "json"])) as T;
  }

  async raw<T>(path: string): Promise<T> {
    return JSON.parse(await this.run(["get", "--raw", path])) as T;
  }

  apply(manifests: string): Promise<string> {
    return this.run(["apply", "--server-side", "--force-conflicts", "-f", "-"], manifests);
  }
}
