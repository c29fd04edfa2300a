import { describe, expect, it } from "vitest";
import { Settlements } from "../src/brokers/nats/worker/settlements.js";

describe("Settlements (acks and naks of one event-loop turn sent together)", () => {
  it("sends nothing before the turn ends, then everything queued, in order", async () => {
    const settlements = new Settlements();
    const sent: string[] = [];
    settlements.add(() => sent.push("ack 1"));
    await Promise.resolve();
    settlements.add(() => sent.push("nak 2"));
    expect(sent).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual(["ack 1", "nak 2"]);
  });

  it("flush() sends at once, and a send that throws (closed connection) does not hold back the rest", async () => {
    const settlements = new Settlements();
    const sent: number[] = [];
    settlements.add(() => sent.push(1));
    settlements.add(() => {
      throw new Error("closed");
    });
    settlements.add(() => sent.push(3));
    settlements.flush();
    expect(sent).toEqual([1, 3]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual([1, 3]);
    settlements.add(() => sent.push(4));
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual([1, 3, 4]);
  });
});
