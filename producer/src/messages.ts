import { randomUUID } from "node:crypto";
import { reservedHeader } from "@queuescale/core";
import { z } from "zod";
import type { OutgoingMessage } from "./brokers/types.js";

/** A request the API refuses before anything is published. */
export class RequestError extends Error {
  constructor(
    readonly status: 400 | 403 | 413,
    message: string,
  ) {
    super(message);
    this.name = "RequestError";
  }
}

const MAX_HEADERS = 32;

/** Deepest nesting of arrays and objects a message body may have. */
export const MAX_BODY_DEPTH = 128;

/**
 * Whether a parsed JSON value nests deeper than `max` levels. Iterative: encoding a deeply nested
 * value again (JSON.stringify is recursive) would overflow the stack, and so would this if it
 * recursed.
 */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let entry = stack.pop(); entry; entry = stack.pop()) {
    const [current, depth] = entry;
    if (typeof current !== "object" || current === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

const HEADER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Why a header name is refused, or undefined when it is fine. */
function invalidHeaderName(name: string): string | undefined {
  if (!HEADER_NAME.test(name)) return "header names are 1-128 letters, digits, _ . or -";
  const reserved = reservedHeader(name);
  return reserved === undefined ? undefined : `header ${name} is reserved: ${reserved}`;
}

const headerValue = z
  .string()
  .max(4096, { message: "header values are at most 4096 characters" })
  .regex(/^[^\r\n]*$/, { message: "header values must not contain line breaks" });

const messageSchema = z
  .strictObject({
    body: z.unknown(),
    headers: z
      .record(z.string(), headerValue)
      .superRefine((headers, context) => {
        const names = Object.keys(headers);
        if (names.length > MAX_HEADERS) context.addIssue({ code: "custom", message: `at most ${MAX_HEADERS} headers` });
        for (const name of names) {
          const problem = invalidHeaderName(name);
          if (problem) context.addIssue({ code: "custom", path: [name], message: problem });
        }
      })
      .optional(),
    id: z
      .string()
      .regex(/^[\x21-\x7e]{1,128}$/, { message: "id must be 1-128 printable ASCII characters without spaces" })
      .optional(),
  })
  .refine((message) => message.body !== undefined, { message: "body is required", path: ["body"] })
  .refine((message) => !nestsDeeperThan(message.body, MAX_BODY_DEPTH), {
    message: `nests arrays and objects deeper than ${MAX_BODY_DEPTH} levels`,
    path: ["body"],
  });

type MessageInput = z.infer<typeof messageSchema>;

function describeIssue(issue: z.core.$ZodIssue, prefix: string): string {
  const path = [prefix, ...issue.path.map(String)].filter((part) => part !== "").join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}

function parseOne(raw: unknown, prefix: string): MessageInput {
  const result = messageSchema.safeParse(raw);
  if (!result.success) throw new RequestError(400, describeIssue(result.error.issues[0]!, prefix));
  return result.data;
}

function toOutgoing(message: MessageInput): OutgoingMessage {
  return {
    id: message.id ?? randomUUID(),
    body: Buffer.from(JSON.stringify(message.body)),
    contentType: "application/json",
    headers: message.headers ?? {},
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Turns a request body into messages: one message `{"body", "headers"?, "id"?}` or a batch
 * `{"messages": [...]}`. The whole request is validated before anything is published; the first
 * problem is reported with its path (`messages.3.headers.x`).
 */
export function parsePublishRequest(raw: unknown, maxBatchMessages: number): OutgoingMessage[] {
  if (!isObject(raw)) throw new RequestError(400, "the request body must be a JSON object");
  if (!("messages" in raw)) return [toOutgoing(parseOne(raw, ""))];

  const extra = Object.keys(raw).filter((key) => key !== "messages");
  if (extra.length > 0) throw new RequestError(400, `unexpected field ${extra[0]} next to messages`);
  const list = raw.messages;
  if (!Array.isArray(list)) throw new RequestError(400, "messages must be an array");
  if (list.length === 0) throw new RequestError(400, "messages must not be empty");
  if (list.length > maxBatchMessages) {
    throw new RequestError(
      413,
      `a batch holds at most ${maxBatchMessages} messages (MAX_BATCH_MESSAGES); got ${list.length}`,
    );
  }
  const messages = list.map((item, index) => toOutgoing(parseOne(item, `messages.${index}`)));
  const firstIndexOfId = new Map<string, number>();
  messages.forEach((message, index) => {
    const earlier = firstIndexOfId.get(message.id);
    if (earlier !== undefined)
      throw new RequestError(400, `messages.${index}.id: repeats the id of messages.${earlier}`);
    firstIndexOfId.set(message.id, index);
  });
  return messages;
}
