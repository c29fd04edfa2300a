import { isUtf8 } from "node:buffer";
import express, {
  type ErrorRequestHandler,
  type Express,
  type Request,
  type RequestHandler,
  type Response,
} from "express";
import { createObservabilityApp, describeError, finishApp, type Logger } from "@queuescale/core";
import { z } from "zod";
import { requireAdminToken } from "./auth.js";
import { QueueOperationError, type BrokerClient } from "./brokers/types.js";
import { RequestError, parsePublishRequest } from "./messages.js";
import type { ProducerMetrics } from "./metrics.js";
import type { PublishPolicy } from "./publish-policy.js";
import type { QueueLister } from "./queues.js";
import { uploadRoute } from "./upload/route.js";

export interface ApiOptions {
  client: BrokerClient;
  metrics: ProducerMetrics;
  lister: QueueLister;
  logger: Logger;
  adminToken: string | undefined;
  /** Which queues POST /v1/queues/NAME/messages may publish to. */
  policy: PublishPolicy;
  maxBatchMessages: number;
  maxBodyBytes: number;
  maxUploadBytes: number;
  /** Requests not yet answered; shutdown waits for them. */
  inFlight: Set<Promise<unknown>>;
}

const STATUS_OF_KIND: Readonly<Record<QueueOperationError["kind"], number>> = {
  not_found: 404,
  conflict: 409,
  unavailable: 503,
  unsupported: 501,
};

const createQueueSchema = z.strictObject({ name: z.string({ message: "name must be a string" }) });

/** Counts every answer by route template (never the raw path, whose queue names are unbounded). */
function requestMetrics(metrics: ProducerMetrics): RequestHandler {
  return (request, response, next) => {
    const started = process.hrtime.bigint();
    response.once("finish", () => {
      const route = (request.route as { path?: string } | undefined)?.path ?? "unmatched";
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observeRequest(route, request.method, response.statusCode, seconds);
    });
    next();
  };
}

/** Why a request failed, for the log line every 5xx answer gets. */
function noteFailure(response: Response, reason: string, fields: Record<string, unknown> = {}): void {
  response.locals.failure = { reason, ...fields };
}

/** Logs every 5xx answer once, with what noteFailure recorded about it. */
function logServerErrors(logger: Logger): RequestHandler {
  return (request, response, next) => {
    response.once("finish", () => {
      if (response.statusCode < 500) return;
      const route = (request.route as { path?: string } | undefined)?.path ?? "unmatched";
      const failure = (response.locals.failure as Record<string, unknown> | undefined) ?? { reason: "unknown" };
      const log = response.statusCode === 500 ? logger.error.bind(logger) : logger.warn.bind(logger);
      log({ method: request.method, route, status: response.statusCode, ...failure }, "request failed");
    });
    next();
  };
}

/**
 * Tracks every request until its answer is written, so shutdown can let publishes that already
 * started finish (and be answered) while refusing new connections.
 */
function trackInFlight(inFlight: Set<Promise<unknown>>): RequestHandler {
  return (_request, response, next) => {
    const answered = new Promise<void>((resolve) => response.once("close", () => resolve()));
    inFlight.add(answered);
    void answered.then(() => inFlight.delete(answered));
    next();
  };
}

/** Body-parser failures and our own errors as `{"error": ...}` with the right status. */
const errorAnswers: ErrorRequestHandler = (error: unknown, _request, response, next) => {
  const type = (error as { type?: unknown }).type;
  if (type === "entity.too.large") {
    const limit = (error as { limit?: number }).limit;
    response.status(413).json({ error: `request body larger than MAX_BODY_BYTES (${limit} bytes)` });
  } else if (type === "entity.parse.failed") {
    response.status(400).json({ error: `malformed JSON: ${(error as Error).message}` });
  } else if (error instanceof RequestError) {
    response.status(error.status).json({ error: error.message });
  } else if (error instanceof QueueOperationError) {
    noteFailure(response, error.message);
    response.status(STATUS_OF_KIND[error.kind]).json({ error: error.message });
  } else {
    noteFailure(response, describeError(error), { stack: error instanceof Error ? error.stack : undefined });
    next(error);
  }
};

/**
 * JSON must be UTF-8; body-parser would decode invalid bytes lossily into U+FFFD and publish a body
 * that is not what was sent. (body-parser passes the RequestError on, status and all.)
 */
function requireUtf8(_request: unknown, _response: unknown, body: Buffer): void {
  if (!isUtf8(body)) throw new RequestError(400, "the request body is not valid UTF-8");
}

function queueName(request: Request, client: BrokerClient): string {
  const name = String(request.params.name);
  const invalid = client.invalidQueueName(name);
  if (invalid) throw new RequestError(400, `queue name ${JSON.stringify(name)}: ${invalid}`);
  return name;
}

function requireConnected(client: BrokerClient): void {
  if (!client.isConnected()) throw new QueueOperationError("unavailable", `not connected to ${client.broker}`);
}

/** What every publishing route checks before it publishes; resolves to the queue name. */
/** The queue named by the route, when the publish policy lets the API publish there (else 403). */
function allowedQueue(request: Request, client: BrokerClient, policy: PublishPolicy): string {
  const name = queueName(request, client);
  const refused = policy.refusal(name);
  if (refused) throw new RequestError(403, refused);
  return name;
}

async function requireQueue(name: string, client: BrokerClient): Promise<void> {
  requireConnected(client);
  if (!(await client.queueExists(name))) throw new QueueOperationError("not_found", `queue ${name} not found`);
}

/** Where a publishing route may publish: an allowed queue that exists. */
async function publishTarget(request: Request, client: BrokerClient, policy: PublishPolicy): Promise<string> {
  const name = allowedQueue(request, client, policy);
  await requireQueue(name, client);
  return name;
}

/** The HTTP API on top of /metrics, /healthz and /readyz. */
export function createApi(options: ApiOptions): Express {
  const { client, metrics, lister, logger, inFlight } = options;
  const app = createObservabilityApp({
    metrics: (format) => metrics.render(format),
    readiness: () => ({ ready: client.isConnected(), broker: client.broker }),
  });
  // Metrics middleware must see every request, so it goes before the routes.
  app.use(requestMetrics(metrics));
  app.use(logServerErrors(logger));
  app.use(trackInFlight(inFlight));
  app.set("query parser", "simple");
  // Any content type is read as JSON (curl -d sends form encoding); the size limit is always on.
  const json = express.json({ limit: options.maxBodyBytes, type: () => true, verify: requireUtf8 });
  const admin = requireAdminToken(options.adminToken);

  app.post("/v1/queues/:name/messages", json, async (request, response) => {
    const name = allowedQueue(request, client, options.policy);
    const messages = parsePublishRequest(request.body, options.maxBatchMessages);
    await requireQueue(name, client);

    const outcomes = await client.publish(name, messages);

    const ids = messages.map((message) => message.id);
    const failed = outcomes.flatMap((outcome, index) =>
      outcome.ok ? [] : [{ index, id: ids[index]!, reason: outcome.reason, detail: outcome.detail }],
    );
    const accepted = outcomes.length - failed.length;
    const duplicates = outcomes.filter((outcome) => outcome.ok && outcome.duplicate).length;
    metrics.countPublished(accepted);
    for (const failure of failed) metrics.countFailure(failure.reason);
    if (failed.length === 0) {
      response.status(202).json({ accepted, duplicates, ids });
      return;
    }
    noteFailure(response, "broker did not accept every message", {
      queue: name,
      accepted,
      failed: failed.length,
      firstReason: failed[0]!.reason,
      detail: failed[0]!.detail,
    });
    response.status(502).json({
      error: `${failed.length} of ${messages.length} messages were not accepted by ${client.broker}`,
      accepted,
      duplicates,
      ids,
      failed,
    });
  });

  // Streams its body itself (no JSON parser); checks the queue as the route above does.
  app.post(
    "/v1/queues/:name/upload",
    uploadRoute({
      client,
      metrics,
      logger,
      maxUploadBytes: options.maxUploadBytes,
      maxRowBytes: options.maxBodyBytes,
      resolveQueue: (request) => publishTarget(request, client, options.policy),
    }),
  );

  app.get("/v1/queues", async (_request, response) => {
    const queues = await lister.list();
    response.json({ queues });
  });

  app.post("/v1/queues", admin, json, async (request, response) => {
    const parsed = createQueueSchema.safeParse(request.body);
    if (!parsed.success) throw new RequestError(400, parsed.error.issues[0]!.message);
    const invalid = client.invalidQueueName(parsed.data.name);
    if (invalid) throw new RequestError(400, `queue name ${JSON.stringify(parsed.data.name)}: ${invalid}`);
    requireConnected(client);
    const { created } = await client.createQueue(parsed.data.name);
    logger.info({ queue: parsed.data.name, created }, "create queue");
    response.status(created ? 201 : 200).json({ name: parsed.data.name, created });
  });

  app.post("/v1/queues/:name/purge", admin, async (request, response) => {
    const name = queueName(request, client);
    requireConnected(client);
    const { purged } = await client.purgeQueue(name);
    logger.info({ queue: name, purged }, "purged queue");
    response.json({ name, purged });
  });

  app.delete("/v1/queues/:name", admin, async (request, response) => {
    const name = queueName(request, client);
    requireConnected(client);
    const { purged } = await client.deleteQueue(name);
    logger.info({ queue: name, purged }, "deleted queue");
    response.json({ name, deleted: true, purged });
  });

  app.use(errorAnswers);
  return finishApp(app);
}
