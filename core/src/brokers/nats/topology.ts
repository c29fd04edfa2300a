/**
 * The names of what a worker declares next to the JetStream consumer it serves. They live here so that
 * whatever must tell them apart from work queues (the producer refuses to publish into them)
 * agrees with what the worker creates.
 */

/** The subject dead letters of a consumer go to unless configured otherwise. */
export function defaultDeadLetterSubject(stream: string, consumer: string): string {
  return `queuescale.dead.${stream}.${consumer}`;
}

/** The stream a worker with DECLARE=true creates for dead letters unless configured otherwise. */
export function defaultDeadLetterStream(stream: string): string {
  return `${stream}_DEAD`;
}

/** Whether a stream name is a worker's default dead-letter stream (`<STREAM>_DEAD`). */
export function isDeadLetterStreamName(stream: string): boolean {
  return stream.length > "_DEAD".length && stream.endsWith("_DEAD");
}
