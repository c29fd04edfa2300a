import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HARNESSED_BROKERS, harnessOf, type ProducerTarget } from "@queuescale/test-support/brokers";
import { ADMIN_TOKEN, startTestProducer, type TestProducer } from "./support/producer.js";
import { findSamples, scrape } from "@queuescale/test-support/scrape";

const MAX_BATCH = 5;
const PUBLISHED_AT_HEADER = { rabbitmq: "x-queuescale-published-at", nats: "Queuescale-Published-At" } as const;
const MAX_BODY = 4096;
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe.each(HARNESSED_BROKERS)("producer API on %s", (brokerName) => {
  let harness: ProducerTarget;
  let producer: TestProducer;
  let queue: string;

  beforeAll(async () => {
    harness = await harnessOf(brokerName).producerTarget();
    producer = await startTestProducer({
      ...harness.settings(),
      ADMIN_TOKEN,
      MAX_BATCH_MESSAGES: String(MAX_BATCH),
      MAX_BODY_BYTES: String(MAX_BODY),
    });
    queue = await harness.createQueue();
  });

  afterAll(async () => {
    await producer?.stop();
    await harness?.cleanup();
  });

  it("answers 202 once the broker confirmed, and the message is stored with its body, headers and id", async () => {
    const sent = {
      body: { order: 17, items: ["a", "b"] },
      headers: { tenant: "acme", "trace-id": "t-1" },
      id: "msg-1",
    };
    const before = Date.now();
    const answer = await producer.post(`/v1/queues/${queue}/messages`, sent);
    const after = Date.now();
    expect(answer).toMatchObject({ status: 202, body: { accepted: 1, ids: ["msg-1"] } });
    expect(await harness.count(queue)).toBe(1);
    const [stored] = await harness.drain(queue, 1);
    expect(stored).toMatchObject({ id: "msg-1", contentType: "application/json", persistent: true });
    expect(JSON.parse(stored!.body)).toEqual(sent.body);
    expect(stored!.headers).toMatchObject(sent.headers);
    // The publish time the worker measures the wait from (docs/worker.md), in the worker's header.
    const publishedAt = Date.parse(stored!.headers[PUBLISHED_AT_HEADER[brokerName]] ?? "");
    expect(publishedAt).toBeGreaterThanOrEqual(before);
    expect(publishedAt).toBeLessThanOrEqual(after);
  });

  it("publishes a batch in order and returns an id for every message", async () => {
    const bodies = [1, "two", { three: 3 }, null, [5]];
    const answer = await producer.post(`/v1/queues/${queue}/messages`, {
      messages: bodies.map((body) => ({ body })),
    });
    expect(answer.status).toBe(202);
    expect(answer.body.accepted).toBe(bodies.length);
    expect(new Set(answer.body.ids).size).toBe(bodies.length);
    const stored = await harness.drain(queue, bodies.length);
    expect(stored.map((message) => JSON.parse(message.body))).toEqual(bodies);
    expect(stored.map((message) => message.id)).toEqual(answer.body.ids);
  });

  describe("refuses bad input without publishing anything", () => {
    const cases: [string, () => Promise<{ status: number; body: unknown }>, number][] = [
      ["malformed JSON", () => producer.post(`/v1/queues/${queue}/messages`, '{"body": 1'), 400],
      ["a JSON array", () => producer.post(`/v1/queues/${queue}/messages`, "[1,2]"), 400],
      ["a message without body", () => producer.post(`/v1/queues/${queue}/messages`, { headers: {} }), 400],
      ["an unknown field", () => producer.post(`/v1/queues/${queue}/messages`, { body: 1, bdy: 2 }), 400],
      ["an empty batch", () => producer.post(`/v1/queues/${queue}/messages`, { messages: [] }), 400],
      [
        "a batch with one invalid message",
        () =>
          producer.post(`/v1/queues/${queue}/messages`, {
            messages: [{ body: 1 }, { body: 2 }, { body: 3, headers: { "bad header": "x" } }, { body: 4 }],
          }),
        400,
      ],
      [
        "a batch that repeats an id",
        () =>
          producer.post(`/v1/queues/${queue}/messages`, {
            messages: [
              { body: 1, id: "a" },
              { body: 2, id: "a" },
            ],
          }),
        400,
      ],
      [
        "a reserved Nats-* header",
        () => producer.post(`/v1/queues/${queue}/messages`, { body: 1, headers: { "Nats-Expected-Stream": "x" } }),
        400,
      ],
      [
        "more messages than MAX_BATCH_MESSAGES",
        () =>
          producer.post(`/v1/queues/${queue}/messages`, {
            messages: Array.from({ length: MAX_BATCH + 1 }, (_, index) => ({ body: index })),
          }),
        413,
      ],
      [
        "a body over MAX_BODY_BYTES",
        () => producer.post(`/v1/queues/${queue}/messages`, { body: "x".repeat(MAX_BODY) }),
        413,
      ],
      [
        "a body nested deeper than the limit",
        () => producer.post(`/v1/queues/${queue}/messages`, `{"body":${"[".repeat(1500)}${"]".repeat(1500)}}`),
        400,
      ],
      [
        "a body that is not valid UTF-8",
        async () => {
          const bytes = Buffer.concat([Buffer.from('{"body":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
          const response = await fetch(`${producer.url}/v1/queues/${queue}/messages`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: bytes,
          });
          return { status: response.status, body: await response.json() };
        },
        400,
      ],
      ["an unknown queue", () => producer.post(`/v1/queues/${harness.missingQueue()}/messages`, { body: 1 }), 404],
    ];

    it.each(cases)("%s", async (_what, send, status) => {
      const before = await harness.count(queue);
      const answer = await send();
      expect(answer.status).toBe(status);
      expect(typeof (answer.body as { error?: unknown }).error).toBe("string");
      expect(await harness.count(queue)).toBe(before);
    });

    it.each([
      "CC",
      "BCC",
      "x-death",
      "x-first-death-queue",
      "x-last-death-reason",
      "x-delivery-count",
      "x-queuescale-retries",
      "X-Queuescale-Attempts",
      "Queuescale-Reason",
      "Nats-Msg-Id",
      "nats-expected-last-sequence",
    ])("refuses the reserved header %s with 400 naming it, publishing nothing", async (header) => {
      const before = await harness.count(queue);
      const answer = await producer.post(`/v1/queues/${queue}/messages`, {
        messages: [{ body: 1 }, { body: 2, headers: { tenant: "acme", [header]: "2" } }],
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toContain(`messages.1.headers.${header}`);
      expect(answer.body.error).toContain("reserved");
      expect(await harness.count(queue)).toBe(before);
    });

    it("names the invalid message of a batch", async () => {
      const answer = await producer.post(`/v1/queues/${queue}/messages`, {
        messages: [{ body: 1 }, { body: 2, id: "has space" }],
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toContain("messages.1.id");
    });

    it("does not create the unknown queue it was asked to publish to", async () => {
      const missing = harness.missingQueue();
      expect((await producer.post(`/v1/queues/${missing}/messages`, { body: 1 })).status).toBe(404);
      expect(await harness.exists(missing)).toBe(false);
    });
  });

  it("lists queues with their depth through the core depth sources", async () => {
    const listed = await harness.createQueue();
    const sent = await producer.post(`/v1/queues/${listed}/messages`, { messages: [{ body: 1 }, { body: 2 }] });
    expect(sent.status).toBe(202);
    // The management API aggregates queue stats every few seconds, so the depth catches up.
    let row: { name: string; depth: number; ready?: number; consumers?: number } | undefined;
    for (let attempt = 0; attempt < 60; attempt++) {
      const answer = await producer.request("GET", "/v1/queues");
      expect(answer.status).toBe(200);
      row = (answer.body.queues as (typeof row)[]).find((each) => each?.name === listed);
      if (row?.depth === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(row).toMatchObject({ name: listed, depth: 2, ready: 2 });
    // The count of consumers is optional in the contract (a source may not know it); when given it is 0.
    if (row?.consumers !== undefined) expect(row.consumers).toBe(0);
  });

  it("counts confirmed messages and requests by route in /metrics", async () => {
    const before = await scrape(producer.url);
    const published = (samples: typeof before) =>
      findSamples(samples, "queuescale_producer_messages_published_total", { broker: brokerName })[0]?.value ?? 0;
    expect((await producer.post(`/v1/queues/${queue}/messages`, { messages: [{ body: 1 }, { body: 2 }] })).status).toBe(
      202,
    );
    const after = await scrape(producer.url);
    expect(published(after) - published(before)).toBe(2);
    const accepted = findSamples(after, "queuescale_producer_http_requests_total", {
      route: "/v1/queues/:name/messages",
      method: "POST",
      status: "202",
    });
    expect(accepted[0]?.value).toBeGreaterThan(0);
    expect(findSamples(after, "queuescale_producer_broker_connected", { broker: brokerName })[0]?.value).toBe(1);
    await harness.drain(queue, 2);
  });

  describe("admin routes", () => {
    it("refuse a request without a token (401) or with a wrong one (403), changing nothing", async () => {
      const target = await harness.createQueue();
      await producer.post(`/v1/queues/${target}/messages`, { body: 1 });
      const name = harness.missingQueue();
      const wrong = { authorization: "Bearer not-the-admin-token-at-all" };
      expect((await producer.post("/v1/queues", { name })).status).toBe(401);
      expect((await producer.post("/v1/queues", { name }, wrong)).status).toBe(403);
      expect((await producer.request("POST", `/v1/queues/${target}/purge`)).status).toBe(401);
      expect((await producer.request("POST", `/v1/queues/${target}/purge`, wrong)).status).toBe(403);
      expect((await producer.request("DELETE", `/v1/queues/${target}`)).status).toBe(401);
      expect((await producer.request("DELETE", `/v1/queues/${target}`, wrong)).status).toBe(403);
      expect(await harness.exists(name)).toBe(false);
      expect(await harness.count(target)).toBe(1);
    });

    it("create, purge and delete queues on the broker with the right token", async () => {
      const name = harness.missingQueue();
      try {
        expect(await producer.post("/v1/queues", { name }, ADMIN)).toMatchObject({
          status: 201,
          body: { created: true },
        });
        expect(await harness.exists(name)).toBe(true);
        expect(await producer.post("/v1/queues", { name }, ADMIN)).toMatchObject({
          status: 200,
          body: { created: false },
        });

        const batch = { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] };
        expect((await producer.post(`/v1/queues/${name}/messages`, batch)).status).toBe(202);
        expect(await harness.count(name)).toBe(3);

        const purged = await producer.request("POST", `/v1/queues/${name}/purge`, ADMIN);
        expect(purged).toMatchObject({ status: 200, body: { purged: 3 } });
        expect(await harness.count(name)).toBe(0);

        expect((await producer.post(`/v1/queues/${name}/messages`, { body: 4 })).status).toBe(202);
        const deleted = await producer.request("DELETE", `/v1/queues/${name}`, ADMIN);
        expect(deleted).toMatchObject({ status: 200, body: { deleted: true, purged: 1 } });
        expect(await harness.exists(name)).toBe(false);
        // The existence cache must not outlive a delete made through the API.
        expect((await producer.post(`/v1/queues/${name}/messages`, { body: 5 })).status).toBe(404);
      } finally {
        await producer.request("DELETE", `/v1/queues/${name}`, ADMIN);
      }
    });

    it("answer 404 for a queue that does not exist and 400 for an invalid name", async () => {
      const missing = harness.missingQueue();
      expect((await producer.request("POST", `/v1/queues/${missing}/purge`, ADMIN)).status).toBe(404);
      expect((await producer.request("DELETE", `/v1/queues/${missing}`, ADMIN)).status).toBe(404);
      expect((await producer.post("/v1/queues", { name: "" }, ADMIN)).status).toBe(400);
      expect((await producer.post("/v1/queues", { nome: "x" }, ADMIN)).status).toBe(400);
    });
  });

  describe("without ADMIN_TOKEN", () => {
    let open: TestProducer;
    beforeAll(async () => {
      open = await startTestProducer(harness.settings());
    });
    afterAll(async () => {
      await open?.stop();
    });

    it("has no admin routes (404), even with a token", async () => {
      const target = await harness.createQueue();
      await open.post(`/v1/queues/${target}/messages`, { body: 1 });
      const name = harness.missingQueue();
      expect((await open.post("/v1/queues", { name }, ADMIN)).status).toBe(404);
      expect((await open.request("POST", `/v1/queues/${target}/purge`, ADMIN)).status).toBe(404);
      expect((await open.request("DELETE", `/v1/queues/${target}`, ADMIN)).status).toBe(404);
      expect(await harness.exists(name)).toBe(false);
      expect(await harness.count(target)).toBe(1);
    });
  });
});
