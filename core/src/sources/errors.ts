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
]);

function codeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Maps any error thrown by a poll to a reason label from what Node and fetch say (socket codes,
 * abort and time-out names). Broker clients' own errors are mapped in the broker folders
 * (natsErrorReason, amqpFailureReason) before they get here. Walks `cause` chains because fetch
 * wraps socket errors ("fetch failed" → cause ECONNREFUSED).
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
      if (code === "ETIMEDOUT" || code === "UND_ERR_CONNECT_TIMEOUT") return "timeout";
    }
    current = (current as { cause?: unknown }).cause;
  }
  return "unknown";
}

/**
 * An error message safe to log: no credentials from URLs. Total: whatever was thrown (a Symbol, an
 * object without a prototype, one whose toString or getters throw, a revoked Proxy) gets a
 * description, because this runs in paths such as settling a message that must not throw.
 */
export function describeError(error: unknown): string {
  try {
    const message = error instanceof Error ? textOf(error.message) : textOf(error);
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${textOf(error.cause.message)}` : "";
    return redactCredentials(message + cause);
  } catch {
    return `a thrown ${typeofSafely(error)} that cannot be described`;
  }
}

/** String() of a value; the tag Object.prototype.toString gives when String() throws. */
function textOf(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function typeofSafely(value: unknown): string {
  // typeof never throws, not even on a revoked Proxy; kept apart so the fallback stays trivial.
  return value === null ? "null" : typeof value;
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
