import { describe, expect, it } from "vitest";
import { MsgHdrsImpl } from "@nats-io/transport-node";
import { decidePullStatus, PullWindow, pullStatusOf } from "../src/brokers/nats/worker/pull-window.js";
import { parseAckSubject } from "../src/brokers/nats/worker/pulled-message.js";

/** Status headers as nats-server 2.9.10 sent them to a pull inbox (the request that caused each in brackets). */
const RECORDED = {
  // {batch: 5, expires: 1.2 s, idle_heartbeat: 0.5 s} on an empty stream, while it waited.
  heartbeat: "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: 0\r\n\r\n",
  // The same request, expired with its 5 messages undelivered.
  timeout: "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 5\r\nNats-Pending-Bytes: 0\r\n\r\n",
  // A second waiting request on a consumer with max_waiting 1.
  maxWaiting: "NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n",
  // A waiting request when the consumer was deleted.
  consumerDeleted: "NATS/1.0 409 Consumer Deleted\r\n\r\n",
  // {batch: 10} on a consumer with max_batch 4.
  maxBatch: "NATS/1.0 409 Exceeded MaxRequestBatch of 4\r\n\r\n",
  // {batch: 2, expires: 1 s, idle_heartbeat: 5 s}.
  badHeartbeat: "NATS/1.0 400 Bad Request - heartbeat value too large\r\n\r\n",
  // {batch: 2, no_wait: true} on an empty stream.
  noMessages: "NATS/1.0 404 No Messages\r\n\r\n",
};

const decide = (raw: string) => decidePullStatus(pullStatusOf(MsgHdrsImpl.decode(new TextEncoder().encode(raw))));

describe("the pull loop's reading of status messages (recorded headers)", () => {
  it("an idle heartbeat only says a request is waiting", () => {
    expect(decide(RECORDED.heartbeat)).toEqual({ kind: "alive" });
  });

  it("a timeout ends a request with what it had left, to ask again", () => {
    expect(decide(RECORDED.timeout)).toEqual({ kind: "ended", messagesLeft: 5 });
    expect(decide(RECORDED.noMessages)).toEqual({ kind: "ended", messagesLeft: 0 });
  });

  it("a deleted consumer or a refused request stalls the loop until its heartbeat check", () => {
    expect(decide(RECORDED.consumerDeleted)).toEqual({ kind: "stalled", messagesLeft: 0, reason: "Consumer Deleted" });
    expect(decide(RECORDED.maxWaiting)).toEqual({ kind: "stalled", messagesLeft: 0, reason: "Exceeded MaxWaiting" });
    expect(decide(RECORDED.maxBatch)).toMatchObject({ kind: "stalled" });
  });

  it("a bad request ends the loop; a leadership change ends the request only", () => {
    expect(decide(RECORDED.badHeartbeat)).toEqual({
      kind: "failed",
      reason: "Bad Request - heartbeat value too large",
    });
    expect(decidePullStatus({ code: 409, description: "Leadership Change", pendingMessages: 3 })).toEqual({
      kind: "ended",
      messagesLeft: 3,
    });
  });

  it("a message without a status is no status", () => {
    expect(pullStatusOf(undefined)).toEqual({ code: 0, description: "", pendingMessages: 0 });
    expect(decidePullStatus(pullStatusOf(undefined))).toEqual({ kind: "alive" });
  });
});

describe("PullWindow (what the worker asks for and holds)", () => {
  it("asks for the whole window, then only for what settling frees, a quarter at least", () => {
    const window = new PullWindow(10);
    expect(window.next()).toBe(10);
    expect(window.next()).toBe(0);
    for (let i = 0; i < 10; i++) window.arrived();
    expect([window.pending, window.held]).toEqual([0, 10]);
    window.settled();
    expect(window.next()).toBe(0);
    window.settled();
    expect(window.next()).toBe(2);
    expect([window.pending, window.held]).toEqual([2, 8]);
  });

  it("never asks while it holds as many as the window, whatever arrives", () => {
    const window = new PullWindow(4);
    expect(window.next()).toBe(4);
    // A re-pull after a reconnect met messages of the request before it.
    window.lost();
    expect(window.next()).toBe(4);
    for (let i = 0; i < 6; i++) window.arrived();
    expect(window.held).toBe(6);
    expect(window.next()).toBe(0);
    for (let i = 0; i < 3; i++) window.settled();
    expect(window.next()).toBe(1);
  });

  it("counts what an ended request left as free again, and everything after a loss", () => {
    const window = new PullWindow(8);
    expect(window.next()).toBe(8);
    window.arrived();
    window.ended(7);
    expect(window.pending).toBe(0);
    expect(window.next()).toBe(7);
    window.lost();
    expect(window.next()).toBe(7);
  });

  it("asks for no more than the consumer's max_batch at once", () => {
    const window = new PullWindow(64, 5);
    expect(window.next()).toBe(5);
    expect(window.next()).toBe(5);
    expect(window.pending).toBe(10);
  });
});

describe("parseAckSubject (delivery info of a pulled message)", () => {
  it("reads the short form and the long one with domain and account hash", () => {
    expect(parseAckSubject("$JS.ACK.ORDERS.worker.3.1042.1040.1796090808760000000.17")).toEqual({
      stream: "ORDERS",
      consumer: "worker",
      deliveryCount: 3,
      streamSequence: 1042,
      timestampNanos: 1796090808760000000,
    });
    expect(parseAckSubject("$JS.ACK.hub.ACCHASH.ORDERS.worker.1.7.7.1796090808760000000.0.xyz")).toMatchObject({
      stream: "ORDERS",
      consumer: "worker",
      deliveryCount: 1,
      streamSequence: 7,
    });
    expect(parseAckSubject("$JS.ACK.hub.ACCHASH.ORDERS.worker.2.8.7.1796090808760000000.0")).toMatchObject({
      stream: "ORDERS",
      deliveryCount: 2,
      streamSequence: 8,
      timestampNanos: 1796090808760000000,
    });
  });

  it("refuses what JetStream would not send", () => {
    expect(parseAckSubject("_INBOX.abc")).toBeUndefined();
    expect(parseAckSubject("$JS.ACKS.ORDERS.worker.3.1042.1040.1796090808760000000.17")).toBeUndefined();
    expect(parseAckSubject("$JS.ACK.ORDERS.worker.3.1042.1040.1796090808760000000")).toBeUndefined();
    expect(parseAckSubject("$JS.ACK.ORDERS.worker.x.1.1.1.0")).toBeUndefined();
    expect(parseAckSubject("$JS.ACK.ORDERS.worker.1.1.1.1")).toBeUndefined();
  });
});
