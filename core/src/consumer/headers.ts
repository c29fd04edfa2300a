import { createHash } from "node:crypto";

/** A header value as text: strings as they are, buffers as UTF-8, tables and lists as JSON. */
export function headerText(value: unknown): string {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (value === null || value === undefined) return "";
  if (typeof value === "object") {
    return JSON.stringify(value, (_key, inner: unknown) =>
      Buffer.isBuffer(inner) ? inner.toString("utf8") : typeof inner === "bigint" ? inner.toString() : inner,
    );
  }
  return String(value);
}

/** An id for messages published without one: the same body always gets the same id. */
export function contentId(body: Buffer): string {
  return `sha256:${createHash("sha256").update(body).digest("hex").slice(0, 32)}`;
}

/** Header values must stay on one line. */
export function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}
