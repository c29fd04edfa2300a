import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";

/** Whether `error` is JetStream's answer that a stream does not exist. */
export function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
}

/**
 * Deletes each named stream (and with it its consumers). A stream that is not there is no error;
 * any other failure is, so a clean-up that did not happen is not passed over.
 */
export async function deleteStreams(manager: JetStreamManager, names: Iterable<string>): Promise<void> {
  for (const name of names) {
    await manager.streams.delete(name).catch((error: unknown) => {
      if (!isStreamNotFound(error)) throw error;
    });
  }
}
