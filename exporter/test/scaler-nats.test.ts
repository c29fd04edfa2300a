import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { credentials } from "@grpc/grpc-js";
import { createLogger } from "@queuescale/core";
import { JetStreamScenario, SHARED_NATS_URL } from "@queuescale/test-support/nats/scenario";
import { eventually } from "@queuescale/test-support/names";
import { ScalerClient, grpcStatusOf } from "@queuescale/test-support/scaler-client";
import { createTestPki, type TestPki } from "@queuescale/test-support/test-pki";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import { startExporter, type RunningExporter } from "../src/exporter.js";

/** 12 published, 5 of them delivered and not acked: depth 12 (7 pending + 5 ack pending). */
const WORKERS = { name: "workers", filter: "jobs", published: 12, received: 5 };

let scenario: JetStreamScenario;
let pki: TestPki;
const exporters: RunningExporter[] = [];
const clients: ScalerClient[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  pki = await createTestPki();
  scenario = await JetStreamScenario.create();
  await scenario.addPullConsumer(WORKERS.name, { filter: WORKERS.filter });
  await scenario.publish(WORKERS.filter, WORKERS.published);
  await scenario.receive(WORKERS.name, WORKERS.received);
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(exporters.splice(0).map((exporter) => exporter.stop()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

afterAll(async () => {
  await scenario?.dispose();
  pki?.dispose();
});

async function start(env: Record<string, string>): Promise<RunningExporter> {
  const exporter = await startExporter(
    {
      env: {
        NATS_URL: SHARED_NATS_URL,
        // Only this test's stream: the shared server holds other runs' streams.
        QUEUE_INCLUDE: `^${scenario.stream}$`,
        LISTEN_ADDRESS: "127.0.0.1:0",
        SCALER_LISTEN_ADDRESS: "127.0.0.1:0",
        POLL_INTERVAL_SECONDS: "1",
        POLL_TIMEOUT_SECONDS: "5",
        ...env,
      },
    },
    createLogger("test", "silent"),
  );
  exporters.push(exporter);
  return exporter;
}

function client(address: string, channelCredentials = credentials.createInsecure()): ScalerClient {
  const created = new ScalerClient(address, channelCredentials);
  clients.push(created);
  return created;
}

function trigger(consumer: string, extra: Record<string, string> = {}): Record<string, string> {
  return { broker: "nats", stream: scenario.stream, consumer, value: "4", ...extra };
}

async function codeOf(call: Promise<unknown>): Promise<string | undefined> {
  return call.then(
    () => "OK",
    (error: unknown) => grpcStatusOf(error),
  );
}

describe("external scaler on NATS JetStream", () => {
  it("answers the exact depth (pending + ack pending), the spec and activity; NOT_FOUND and INVALID_ARGUMENT", async () => {
    const exporter = await start({});
    const scaler = client(`127.0.0.1:${exporter.scalerPort}`);
    const values = await eventually(() => scaler.getMetrics(trigger(WORKERS.name)).catch(() => undefined));
    expect(values.map((value) => value.metricValueFloat)).toEqual([WORKERS.published]);
    const [spec] = await scaler.getMetricSpec(trigger(WORKERS.name));
    expect(spec).toEqual({ metricName: values[0]!.metricName, targetSize: 4, targetSizeFloat: 4 });
    expect(spec!.metricName).toBe(`queuescale-nats-${scenario.stream.toLowerCase()}-workers`);
    expect(await scaler.isActive(trigger(WORKERS.name, { activationValue: "11" }))).toBe(true);
    expect(await scaler.isActive(trigger(WORKERS.name, { activationValue: "12" }))).toBe(false);
    expect(await codeOf(scaler.getMetrics(trigger("nobody")))).toBe("NOT_FOUND");
    const noConsumer = scaler.getMetrics({ broker: "nats", stream: scenario.stream, value: "4" });
    await expect(noConsumer).rejects.toMatchObject({ details: expect.stringContaining("scalerMetadata.consumer") });
    expect(await codeOf(noConsumer)).toBe("INVALID_ARGUMENT");
    // StreamMetricSpec is optional: UNIMPLEMENTED is what makes KEDA fall back to GetMetricSpec.
    const specStream = scaler.raw.StreamMetricSpec({ scalerMetadata: trigger(WORKERS.name) });
    const specError = await new Promise<unknown>((resolve) => specStream.on("error", resolve));
    expect(grpcStatusOf(specError)).toBe("UNIMPLEMENTED");
  });

  it("fails UNAVAILABLE through a cut connection and answers again once it is restored", async () => {
    const proxy = new TcpProxy(Number(new URL(SHARED_NATS_URL).port));
    await proxy.start();
    proxies.push(proxy);
    const exporter = await start({ NATS_URL: `nats://127.0.0.1:${proxy.port}` });
    const scaler = client(`127.0.0.1:${exporter.scalerPort}`);
    await eventually(() => scaler.getMetrics(trigger(WORKERS.name)).catch(() => undefined));
    await proxy.cut();
    await eventually(
      async () => (await codeOf(scaler.getMetrics(trigger(WORKERS.name)))) === "UNAVAILABLE" || undefined,
    );
    expect(await codeOf(scaler.isActive(trigger(WORKERS.name)))).toBe("UNAVAILABLE");
    await proxy.restore();
    const back = await eventually(() => scaler.getMetrics(trigger(WORKERS.name)).catch(() => undefined), {
      timeoutMs: 30_000,
    });
    expect(back[0]!.metricValueFloat).toBe(WORKERS.published);
  });

  it("serves TLS when a certificate is configured, and requires a client certificate with a client CA", async () => {
    const exporter = await start({
      SCALER_TLS_CERT_FILE: pki.serverCert,
      SCALER_TLS_KEY_FILE: pki.serverKey,
      SCALER_TLS_CLIENT_CA_FILE: pki.caCert,
    });
    const address = `localhost:${exporter.scalerPort}`;
    const ca = pki.read(pki.caCert);
    const mutual = client(address, credentials.createSsl(ca, pki.read(pki.clientKey), pki.read(pki.clientCert)));
    const values = await eventually(() => mutual.getMetrics(trigger(WORKERS.name)).catch(() => undefined));
    expect(values[0]!.metricValueFloat).toBe(WORKERS.published);
    // No client certificate, or no TLS at all: the handshake fails, nothing is answered.
    expect(await codeOf(client(address, credentials.createSsl(ca)).getMetrics(trigger(WORKERS.name)))).toBe(
      "UNAVAILABLE",
    );
    expect(await codeOf(client(address).getMetrics(trigger(WORKERS.name)))).toBe("UNAVAILABLE");
  });

  it("serves TLS without client certificates when no client CA is configured", async () => {
    const exporter = await start({ SCALER_TLS_CERT_FILE: pki.serverCert, SCALER_TLS_KEY_FILE: pki.serverKey });
    const scaler = client(`localhost:${exporter.scalerPort}`, credentials.createSsl(pki.read(pki.caCert)));
    const values = await eventually(() => scaler.getMetrics(trigger(WORKERS.name)).catch(() => undefined));
    expect(values[0]!.metricValueFloat).toBe(WORKERS.published);
    // A client that does not trust the CA gets nothing.
    expect(
      await codeOf(client(`localhost:${exporter.scalerPort}`, credentials.createSsl()).isActive(trigger(WORKERS.name))),
    ).toBe("UNAVAILABLE");
  });
});
