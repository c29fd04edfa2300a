import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import type { Pki } from "./pki.js";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
    readonly body: string,
  ) {
    super(`GET ${path}: HTTP ${status} ${body.slice(0, 300)}`);
  }
}

/**
 * Read-only GETs against kube-apiserver over one keep-alive connection with the admin client
 * certificate. The run samples the HPA, the Deployment and the external metric every second;
 * a kubectl process per sample would cost more CPU than the control plane itself.
 */
export class ApiClient {
  private readonly agent: Agent;

  constructor(
    private readonly baseUrl: string,
    pki: Pki,
  ) {
    this.agent = new Agent({
      keepAlive: true,
      ca: readFileSync(pki.ca.cert),
      cert: readFileSync(pki.admin.cert),
      key: readFileSync(pki.admin.key),
    });
  }

  get<T>(path: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, this.baseUrl), { agent: this.agent, timeout: 10_000 }, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            try {
              resolve(JSON.parse(body) as T);
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          } else {
            reject(new ApiError(status, path, body));
          }
        });
        response.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`GET ${path}: timed out`)));
      req.on("error", reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A Kubernetes quantity as the metrics APIs write it ("750", "93750m", "1500k") as a number. */
export function parseQuantity(quantity: string): number {
  const match = /^(-?\d+(?:\.\d+)?)([munkMGT]?)$/.exec(quantity.trim());
  if (!match) throw new Error(`unsupported quantity ${JSON.stringify(quantity)}`);
  const factors: Record<string, number> = { "": 1, m: 1e-3, u: 1e-6, n: 1e-9, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(match[1]) * (factors[match[2] ?? ""] ?? 1);
}
