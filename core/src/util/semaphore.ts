/**
 * Hands out at most `size` permits; waiting takers are served in order (a plain FIFO: thousands
 * may wait) or, once closed, told to give up. `take` is synchronous while a permit is free, to keep
 * hot paths (one take per delivered message) free of a microtask.
 */
export class Semaphore {
  private used = 0;
  private readonly waiting: ((granted: boolean) => void)[] = [];
  private head = 0;
  private closed = false;

  constructor(private readonly size: number) {}

  /** true with a permit, false once closed. */
  take(): boolean | Promise<boolean> {
    if (this.closed) return false;
    if (this.used < this.size) {
      this.used++;
      return true;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Returns a permit: to the first waiter (so `used` does not change), else to the pool. */
  give(): void {
    const next = this.next();
    if (next) next(true);
    else this.used--;
  }

  /** Runs `work` holding a permit; rejects without running it when the semaphore is closed. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (!(await this.take())) throw new Error("semaphore closed");
    try {
      return await work();
    } finally {
      this.give();
    }
  }

  /** Refuses further takers and wakes every waiting one with false. */
  close(): void {
    this.closed = true;
    for (let next = this.next(); next; next = this.next()) next(false);
  }

  private next(): ((granted: boolean) => void) | undefined {
    if (this.head >= this.waiting.length) return undefined;
    const next = this.waiting[this.head]!;
    this.waiting[this.head++] = () => undefined;
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    }
    return next;
  }
}
