/** One message as a handler sees it, whichever broker it came from. */
export interface WorkerMessage {
  /** The raw payload, exactly as published. */
  readonly body: Buffer;
  /** The broker's headers, each as a string (multi-valued NATS headers joined with ", "). */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * A stable id for de-duplication: the publisher's message id when it set one (AMQP
   * `message-id`, NATS `Nats-Msg-Id`), else one derived from the message itself.
   */
  readonly id: string;
  /** 1 on the first delivery, counting retries and redeliveries after a crash. */
  readonly attempt: number;
  /**
   * Unix milliseconds when the message was published, where the broker or the publisher recorded
   * it (JetStream: the stream's store time; RabbitMQ: the producer's published-at header);
   * undefined otherwise. The worker measures the wait before the handler from it.
   */
  readonly publishedAtMs?: number | undefined;
  /** The body parsed as JSON; throws DecodeError, which dead-letters the message at once. */
  json<T = unknown>(): T;
}

/**
 * A failure that no retry can fix: the message goes to the dead letters at once. Handlers throw it
 * (or a subclass) for messages they can never process.
 */
export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PermanentError";
  }
}

/** The body is not what the handler can read (e.g. not JSON). */
export class DecodeError extends PermanentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DecodeError";
  }
}

/**
 * Fatal: invalid UTF-8 is an undecodable body, not one to repair with U+FFFD and handle as if valid.
 * The BOM is kept, as Buffer#toString keeps it, so JSON.parse refuses it as before.
 */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Parses a body as UTF-8 JSON or throws DecodeError. */
export function decodeJson<T>(body: Buffer): T {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new DecodeError("body is not valid UTF-8");
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new DecodeError(`body is not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}
