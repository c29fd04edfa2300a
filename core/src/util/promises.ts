/** A promise with its resolve/reject exposed (Promise.withResolvers is not in Node 20). */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Settles with `promise`, or rejects once the signal aborts, whichever comes first: with
 * `abandoned()` when given, else with the signal's reason. The promise keeps running; only its
 * caller stops waiting, so a hung socket cannot pin a poll or a request.
 */
export function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal, abandoned?: () => Error): Promise<T> {
  if (!signal) return promise;
  const reason = (): unknown => (abandoned ? abandoned() : signal.reason);
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reason());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Resolves or rejects with `promise`, or rejects with `onTimeout()` after `ms` if it has not
 * settled by then. The promise keeps running; callers that must undo its effect do so themselves.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
