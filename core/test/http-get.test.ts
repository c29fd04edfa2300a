import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SourceError, getText, httpEndpoint } from "@queuescale/core";

/** Answers by path; records the accept-encoding each request sent. */
const askedFor: (string | undefined)[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    askedFor.push(request.headers["accept-encoding"]);
    switch (request.url) {
      case "/gzip":
        response.writeHead(200, { "content-encoding": "gzip" }).end(gzipSync("wörker 1\n"));
        break;
      case "/brotli":
        response.writeHead(200, { "content-encoding": "br" }).end("not really");
        break;
      case "/false-gzip":
        response.writeHead(200, { "content-encoding": "gzip" }).end("plain text");
        break;
      case "/moved":
        response.writeHead(301, { location: "/gzip" }).end();
        break;
      default:
        response.writeHead(200).end("plain\n");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const get = (path: string) => getText(httpEndpoint(base), new URL(`${base}${path}`), AbortSignal.timeout(5000));

async function failure(path: string): Promise<SourceError> {
  const error = await get(path).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof SourceError)) throw new Error(`expected a SourceError from ${path}, got ${String(error)}`);
  return error;
}

describe("getText", () => {
  it("asks for gzip and inflates a compressed answer; reads a plain one as it is", async () => {
    expect(await get("/gzip")).toBe("wörker 1\n");
    expect(await get("/plain")).toBe("plain\n");
    expect(askedFor.slice(-2)).toEqual(["gzip", "gzip"]);
  });

  it("fails with reason parse on an encoding it did not ask for, naming it, and on a gzip answer that is not", async () => {
    const brotli = await failure("/brotli");
    expect(brotli.reason).toBe("parse");
    expect(brotli.message).toContain("content-encoding br");
    expect((await failure("/false-gzip")).reason).toBe("parse");
  });

  it("does not follow a redirect: a 3xx fails the poll with reason http_status", async () => {
    const moved = await failure("/moved");
    expect(moved.reason).toBe("http_status");
    expect(moved.message).toContain("HTTP 301");
  });
});
