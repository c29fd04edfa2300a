import { createLogger, type Logger } from "@queuescale/core";
import { startProducer, type RunningProducer } from "../../src/server.js";

export const ADMIN_TOKEN = "test-admin-token-0123456789";

/** A parsed JSON answer; tests look into it field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are asserted on, not trusted
export type Answer = { status: number; body: any };

export interface TestProducer extends RunningProducer {
  readonly url: string;
  /** POSTs JSON (or a raw string) and returns status and parsed body. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Answer>;
  request(method: string, path: string, headers?: Record<string, string>): Promise<Answer>;
}

/** Starts the producer on a free loopback port and waits until it is connected to the broker. */
export async function startTestProducer(settings: Record<string, string>, logger?: Logger): Promise<TestProducer> {
  const producer = await startProducer(
    { argv: [], env: { LISTEN_ADDRESS: "127.0.0.1:0", LOG_LEVEL: "silent", ...settings } },
    logger ?? createLogger("queuescale-producer-test", "silent"),
  );
  await producer.client.waitUntilConnected(AbortSignal.timeout(15_000));
  const url = `http://127.0.0.1:${producer.port}`;
  const answer = async (response: Response): Promise<Answer> => {
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: response.status, body };
  };
  return {
    ...producer,
    url,
    async post(path, body, headers = {}) {
      const response = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      return answer(response);
    },
    async request(method, path, headers = {}) {
      return answer(await fetch(`${url}${path}`, { method, headers }));
    },
  };
}
