import type { Logger, WorkerMessage } from "@queuescale/core";

export { DecodeError, PermanentError, decodeJson, type WorkerMessage } from "@queuescale/core";

export interface HandlerContext {
  /** Aborted when shutdown gives up waiting for this message; it will be redelivered. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

export type Handler = (message: WorkerMessage, context: HandlerContext) => Promise<unknown> | unknown;
