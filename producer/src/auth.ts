import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/**
 * Guards admin routes with `Authorization: Bearer <ADMIN_TOKEN>`. Without a configured token the
 * routes do not exist (404), so a forgotten setting never leaves them open. Tokens are compared as
 * fixed-length digests in constant time, so neither content nor length leaks through timing.
 */
export function requireAdminToken(token: string | undefined): RequestHandler {
  if (token === undefined) {
    return (_request, response) => {
      response.status(404).json({ error: "not found" });
    };
  }
  const expected = digest(token);
  return (request, response, next) => {
    const header = request.get("authorization");
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      response.setHeader("WWW-Authenticate", 'Bearer realm="queuescale-producer"');
      response.status(401).json({ error: "admin routes need Authorization: Bearer <ADMIN_TOKEN>" });
      return;
    }
    if (!timingSafeEqual(digest(match[1]!), expected)) {
      response.status(403).json({ error: "wrong admin token" });
      return;
    }
    next();
  };
}
