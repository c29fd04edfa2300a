import { z } from "zod";
import { SourceError } from "../../sources/types.js";

/** What a JetStream API answer carries instead of its result when the request failed. */
const apiError = z.object({
  error: z.object({ code: z.number(), err_code: z.number().optional(), description: z.string().optional() }),
});

/**
 * Reads the answer of a JetStream API request (`what` names it in errors): its result, checked
 * against `result`; null when it carries the error code `absent` (nothing there to read); for any
 * other error a SourceError with reason auth (403) or unknown, and parse for a body that is
 * neither JSON nor one of the two shapes.
 */
export function parseApiAnswer<T>(body: string, what: string, result: z.ZodType<T>, absent: number): T | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new SourceError("parse", `${what} answered with something other than JSON`, { cause: error });
  }
  const failed = apiError.safeParse(json);
  if (failed.success) {
    const { code, err_code: errCode, description } = failed.data.error;
    if (errCode === absent) return null;
    throw new SourceError(
      code === 403 ? "auth" : "unknown",
      `${what} failed: ${description ?? "error"} (${errCode ?? code})`,
    );
  }
  const parsed = result.safeParse(json);
  if (!parsed.success) throw new SourceError("parse", `unexpected ${what} answer`);
  return parsed.data;
}
