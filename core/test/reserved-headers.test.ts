import { describe, expect, it } from "vitest";
import { RESERVED_HEADER_PATTERNS, reservedHeader } from "../src/reserved-headers.js";

describe("reserved message headers", () => {
  it.each([
    "CC",
    "bcc",
    "x-death",
    "x-first-death-exchange",
    "x-last-death-queue",
    "x-delivery-count",
    "x-queuescale-retries",
    "x-queuescale-anything",
    "Queuescale-Reason",
    "Nats-Msg-Id",
    "NATS-ROLLUP",
  ])("%s is reserved, with a reason", (name) => {
    expect(reservedHeader(name)).toMatch(/\S/);
  });

  it.each(["tenant", "trace-id", "x-request-id", "ccc", "x-deathly", "nats"])("%s is free", (name) => {
    expect(reservedHeader(name)).toBeUndefined();
  });

  it("lists every rule for the docs, prefixes ending in *", () => {
    expect(RESERVED_HEADER_PATTERNS).toContain("cc");
    expect(RESERVED_HEADER_PATTERNS).toContain("x-queuescale-*");
  });
});
