import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Express, type Request, type Response } from "express";
import type { Exposition } from "./collector.js";
import { CONTENT_TYPES, negotiateFormat, type ExpositionFormat } from "./metrics/exposition.js";

export interface ObservabilityHandlers {
  /** Full exposition in the requested format: text, or a shared body that can also be sent gzipped. */
  metrics(format: ExpositionFormat): Promise<string | Exposition>;
  /** Readiness with a JSON-able detail; 503 when not ready. */
  readiness(): { ready: boolean };
}

/**
 * An express app with `/metrics`, `/healthz` and `/readyz`. Services add their own routes to it.
 * Unknown routes and errors answer JSON, never an HTML page.
 */
export function createObservabilityApp(handlers: ObservabilityHandlers): Express {
  const app = express();
  app.disable("x-powered-by");
  // An ETag would hash every body sent; scrapers never send If-None-Match.
  app.set("etag", false);
  app.get("/metrics", async (request: Request, response: Response) => {
    const format = negotiateFormat((types) => request.accepts(types));
    const exposition = await handlers.metrics(format);
    response.setHeader("Content-Type", CONTENT_TYPES[format]);
    response.setHeader("Vary", "Accept, Accept-Encoding");
    if (typeof exposition === "string") {
      response.send(exposition);
      return;
    }
    // Prometheus asks for gzip; the compressed body is shared by every scrape of the same render.
    if (request.acceptsEncodings("gzip", "identity") === "gzip") {
      response.setHeader("Content-Encoding", "gzip");
      sendPieces(response, await exposition.gzipped());
      return;
    }
    sendPieces(response, exposition.body);
  });
  app.get("/healthz", (_request, response) => {
    response.json({ status: "ok" });
  });
  app.get("/readyz", (_request, response) => {
    const readiness = handlers.readiness();
    response.status(readiness.ready ? 200 : 503).json(readiness);
  });
  return app;
}

/** Writes a body held in pieces without joining them into one copy; its length is known, so not chunked. */
function sendPieces(response: Response, pieces: readonly Buffer[]): void {
  response.setHeader(
    "Content-Length",
    pieces.reduce((total, piece) => total + piece.length, 0),
  );
  for (const piece of pieces) response.write(piece);
  response.end();
}

/** Adds the JSON 404 and error handlers; call after the service's own routes. */
export function finishApp(app: Express): Express {
  app.use((_request: Request, response: Response) => {
    response.status(404).json({ error: "not found" });
  });
  app.use((error: unknown, _request: Request, response: Response, _next: express.NextFunction) => {
    const status =
      typeof (error as { status?: unknown }).status === "number" ? (error as { status: number }).status : 500;
    const message = status < 500 && error instanceof Error ? error.message : "internal error";
    response.status(status).json({ error: message });
  });
  return app;
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** Starts listening and resolves with the server and the port it got (0 picks a free one). */
export function listen(app: Express, address: ListenAddress): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = app.listen(address.port, address.host);
    server.once("listening", () => resolve({ server, port: (server.address() as AddressInfo).port }));
    server.once("error", reject);
  });
}

/** Closes a server, ending idle keep-alive connections so shutdown does not wait on scrapers. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
