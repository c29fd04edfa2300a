import { DEFAULT_MAX_RESPONSE_BYTES, readCappedText } from "./body.js";
import { SourceError } from "./types.js";
import { classifyPollError, describeError, redactUrl } from "./errors.js";

/**
 * HTTP GETs of the depth sources (RabbitMQ management and Prometheus endpoints, NATS monitoring):
 * credentials from the URL travel as a Basic header, every failure becomes a SourceError with one
 * mapping of statuses to reasons, and bodies are read up to MAX_RESPONSE_BYTES.
 */

/** A URL split into what is sent on the wire and the credentials that go into a header. */
export interface HttpEndpoint {
  /** Base URL without user and password (fetch refuses URLs that carry them). */
  readonly base: URL;
  /** `Basic …` header value, when credentials are known. */
  readonly authorization?: string;
  /** The largest body read from it (MAX_RESPONSE_BYTES). */
  readonly maxResponseBytes: number;
}

/** Splits userinfo off a URL; `fallback` supplies credentials when the URL has none. */
export function httpEndpoint(
  url: string,
  fallback?: { username: string; password: string },
  maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES,
): HttpEndpoint {
  const base = new URL(url);
  const username = base.username ? decodeURIComponent(base.username) : fallback?.username;
  const password = base.username ? decodeURIComponent(base.password) : fallback?.password;
  base.username = "";
  base.password = "";
  const authorization =
    username === undefined ? undefined : `Basic ${Buffer.from(`${username}:${password ?? ""}`).toString("base64")}`;
  return { base, authorization, maxResponseBytes };
}

/** Appends a path to a base URL that may itself have a path prefix (a reverse proxy). */
export function endpointUrl(endpoint: HttpEndpoint, path: string, query?: URLSearchParams): URL {
  const url = new URL(endpoint.base);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}${path}`;
  url.search = query ? query.toString() : "";
  return url;
}

/** A non-2xx answer, with the reason label of the contract: 401/403 auth, 404 not_found, else http_status. */
export class HttpStatusError extends SourceError {
  constructor(
    url: URL,
    readonly status: number,
  ) {
    super(
      status === 401 || status === 403 ? "auth" : status === 404 ? "not_found" : "http_status",
      `${redactUrl(url)} answered HTTP ${status}`,
    );
  }
}

/** GETs a URL and returns its body as text; non-2xx answers and bodies past the limit become SourceErrors. */
export async function getText(
  endpoint: HttpEndpoint,
  url: URL,
  signal: AbortSignal,
  accept = "text/plain",
): Promise<string> {
  const headers: Record<string, string> = { accept };
  if (endpoint.authorization) headers.authorization = endpoint.authorization;
  let response: Response;
  try {
    response = await fetch(url, { headers, signal });
  } catch (error) {
    // fetch says only "fetch failed"; name the endpoint (without credentials) and keep the cause's
    // reason. Whatever it is, the server was not reached.
    const reason = classifyPollError(error);
    throw new SourceError(
      reason === "unknown" ? "connection" : reason,
      `GET ${redactUrl(url)}: ${describeError(error)}`,
      {
        cause: error,
      },
    );
  }
  if (!response.ok) {
    // Drain the body so the keep-alive connection can be reused.
    await response.body?.cancel();
    throw new HttpStatusError(url, response.status);
  }
  return readCappedText(response, endpoint.maxResponseBytes, `GET ${redactUrl(url)}`);
}

/** GETs a URL and parses its JSON body; a body that is not JSON is a `parse` failure. */
export async function getJson(endpoint: HttpEndpoint, url: URL, signal: AbortSignal): Promise<unknown> {
  const text = await getText(endpoint, url, signal, "application/json");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new SourceError("parse", `${redactUrl(url)} answered a body that is not JSON`, { cause: error });
  }
}

/** `host:port` of a URL, for source names; the port is spelled out even when it is the default. */
export function hostPort(url: string | URL): string {
  const parsed = new URL(url.toString());
  const port = parsed.port || (parsed.protocol === "https:" ? "443" : "80");
  return `${parsed.hostname}:${port}`;
}
