import { randomBytes } from "node:crypto";
import { waitFor, type WaitOptions } from "@queuescale/core";

/** A name no other test run (or earlier run on a long-lived broker) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs` (15 s unless told). */
export function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  options: WaitOptions = {},
): Promise<T> {
  return waitFor(check, options);
}
