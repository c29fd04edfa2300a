import type { PollErrorReason } from "../contract.js";
import { SourceError } from "./types.js";

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "CONNECTION_REFUSED",
  "DISCONNECT",
  "CLOSED",
]);

function codeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Maps any error thrown by a poll to a reason label. Walks `cause` chains because fetch wraps
 * socket errors ("fetch failed" → cause ECONNREFUSED).
 */
export function classifyPollError(error: unknown): PollErrorReason {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (current instanceof SourceError) return current.reason;
    const name = (current as { name?: unknown }).name;
    if (name === "AbortError" || name === "TimeoutError") return "timeout";
    const code = codeOf(current);
    if (code !== undefined) {
      if (CONNECTION_CODES.has(code)) return "connection";
      if (code === "ETIMEDOUT" || code === "TIMEOUT" || code === "UND_ERR_CONNECT_TIMEOUT") return "timeout";
      if (code === "PERMISSIONS_VIOLATION" || code === "AUTHORIZATION_VIOLATION") return "auth";
    }
    current = (current as { cause?: unknown }).cause;
  }
  return "unknown";
}

/** An error message safe to log: no credentials from URLs. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return redactCredentials(message + cause);
}

/** Replaces `user:password@` in any URL inside a text. */
export function redactCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, "$1***@");
}

/** A URL for logs and messages, without user and password. */
export function redactUrl(url: string | URL): string {
  try {
    const parsed = new URL(url.toString());
    if (parsed.username || parsed.password) {
      parsed.username = "***";
      parsed.password = "";
    }
    return parsed.toString();
  } catch {
    return redactCredentials(url.toString());
  }
}
