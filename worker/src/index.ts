export type { HandlerContext, Handler, WorkerMessage } from "./message.js";
export { DecodeError, PermanentError } from "./message.js";
export { startWorker, type RunningWorker, type StartOptions } from "./worker.js";
export { workerSettings } from "./settings.js";
export { WORKER_METRICS } from "./metrics.js";
