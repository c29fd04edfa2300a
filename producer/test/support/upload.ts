import { request as httpRequest } from "node:http";
import { Readable } from "node:stream";
import type { Answer } from "./producer.js";

export interface UploadRequest {
  /** The body; a Readable is sent chunked, without Content-Length. */
  readonly body: string | Buffer | Readable;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
  readonly query?: string;
}

/**
 * POSTs an upload with node:http, which (unlike fetch) still reads the answer when the producer
 * answers before the whole body was sent and closes the connection.
 */
export function upload(baseUrl: string, queue: string, options: UploadRequest): Promise<Answer> {
  const url = new URL(`/v1/queues/${queue}/upload${options.query ? `?${options.query}` : ""}`, baseUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.contentType) headers["content-type"] = options.contentType;
    if (!(options.body instanceof Readable)) headers["content-length"] = String(Buffer.byteLength(options.body));
    const outgoing = httpRequest(url, { method: "POST", headers }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
        resolve({ status: response.statusCode ?? 0, body });
      });
      response.on("error", reject);
    });
    let answered = false;
    outgoing.on("response", () => (answered = true));
    // A write cut short by an early answer is expected; only a request without an answer fails.
    outgoing.on("error", (error) => {
      if (!answered) setTimeout(() => (answered ? undefined : reject(error)), 1_000);
    });
    if (options.body instanceof Readable) options.body.pipe(outgoing);
    else outgoing.end(options.body);
  });
}

/** A multipart/form-data body with one `file` part, as curl -F file=@NAME sends it. */
export async function multipartBody(
  fileName: string,
  content: string,
  partType = "application/octet-stream",
  extra: Record<string, string> = {},
): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  for (const [name, value] of Object.entries(extra)) form.append(name, value);
  form.append("file", new Blob([content], { type: partType }), fileName);
  const encoded = new Response(form);
  return {
    body: Buffer.from(await encoded.arrayBuffer()),
    contentType: encoded.headers.get("content-type")!,
  };
}
