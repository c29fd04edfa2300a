/**
 * Acks and naks settled during one turn of the event loop, sent together at its end.
 *
 * The NATS client writes to its socket in a microtask after the first command it buffers. The
 * worker settles each message several microtasks after the previous one (the consume iterator
 * yields them one by one, then each goes through the handler), so that write came once per ack: a
 * system call and a write request for every 4-byte `+ACK`, about half the worker's CPU with a
 * no-op handler. Queued here, the settlements of everything read from the socket in one turn leave
 * in one write. Each still leaves after its handler finished; it waits at most for the rest of
 * the turn. `afterFlush` runs once the turn's settlements are sent: the worker asks for the next
 * messages there, so that request leaves in the same write.
 */
export class Settlements {
  private queued: (() => void)[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly afterFlush: () => void = () => undefined) {}

  /** Queues `send` (a JsMsg ack or nak) for the end of this turn. */
  add(send: () => void): void {
    this.queued.push(send);
    this.scheduled ??= setImmediate(this.flush);
  }

  /** Sends everything queued now (before the connection drains, say). */
  readonly flush = (): void => {
    clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const queued = this.queued;
    this.queued = [];
    for (const send of queued) {
      try {
        send();
      } catch {
        // The connection closed meanwhile: JetStream redelivers the message after ack_wait.
      }
    }
    this.afterFlush();
  };
}
