import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort, Semaphore, untilAborted, waitFor } from "@queuescale/core";

describe("Semaphore", () => {
  it("grants at once while permits are free, then hands freed permits to waiters in order", async () => {
    const semaphore = new Semaphore(2);
    expect(semaphore.take()).toBe(true);
    expect(semaphore.take()).toBe(true);
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      Promise.resolve(semaphore.take()).then((granted) => {
        order.push(n);
        return granted;
      }),
    );
    semaphore.give();
    semaphore.give();
    semaphore.give();
    expect(await Promise.all(waiters)).toEqual([true, true, true]);
    expect(order).toEqual([1, 2, 3]);
  });

  it("tells waiters and later takers to give up once closed", async () => {
    const semaphore = new Semaphore(1);
    expect(semaphore.take()).toBe(true);
    const waiting = semaphore.take();
    semaphore.close();
    expect(await waiting).toBe(false);
    expect(semaphore.take()).toBe(false);
    await expect(semaphore.run(() => Promise.resolve(1))).rejects.toThrow("closed");
  });

  it("run holds a permit for the work and returns it after a failure", async () => {
    const semaphore = new Semaphore(1);
    await expect(semaphore.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await semaphore.run(() => Promise.resolve("again"))).toBe("again");
  });
});

describe("untilAborted", () => {
  it("rejects with the signal's reason, or with the error given for an abandoned wait", async () => {
    const controller = new AbortController();
    const never = new Promise<never>(() => undefined);
    const plain = untilAborted(never, controller.signal);
    const named = untilAborted(never, controller.signal, () => new Error("abandoned"));
    controller.abort(new Error("reason"));
    await expect(plain).rejects.toThrow("reason");
    await expect(named).rejects.toThrow("abandoned");
  });

  it("settles with the promise when the signal does not abort", async () => {
    expect(await untilAborted(Promise.resolve(7), new AbortController().signal)).toBe(7);
    expect(await untilAborted(Promise.resolve(8))).toBe(8);
  });
});

describe("freePort", () => {
  it("gives a port that can be bound, the preferred one when it is free", async () => {
    const port = await freePort();
    expect(await freePort(port)).toBe(port);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    try {
      expect(await freePort(port)).not.toBe(port);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("waitFor", () => {
  it("returns the first defined answer and names the last error on a time-out", async () => {
    let calls = 0;
    expect(await waitFor(() => (++calls < 3 ? undefined : calls), { intervalMs: 1 })).toBe(3);
    await expect(
      waitFor(
        () => {
          throw new Error("still down");
        },
        { timeoutMs: 0, intervalMs: 1, what: "the thing" },
      ),
    ).rejects.toThrow(/the thing: still down/);
    await expect(waitFor(() => undefined, { abort: () => "it died", what: "x" })).rejects.toThrow("x: it died");
  });
});
