import { describe, expect, it } from "vitest";
import { decodeAnswer } from "../src/sources/body.js";

describe("decodeAnswer", () => {
  const utf8 = (text: string) => new TextEncoder().encode(text);

  it("gives the same text as a UTF-8 decode, for ASCII and for anything else", () => {
    for (const text of ['{"name":"worker-1","num_pending":3}', '{"name":"wörker-ß"}', "作業者 😀", ""]) {
      expect(decodeAnswer(utf8(text))).toBe(text);
      expect(decodeAnswer(Buffer.from(text))).toBe(text);
    }
  });

  it("reads only the view it is given of a larger buffer", () => {
    const whole = utf8('xx{"a":1}yy');
    expect(decodeAnswer(whole.subarray(2, 9))).toBe('{"a":1}');
    expect(decodeAnswer(utf8("__é__").subarray(2, 4))).toBe("é");
  });

  it("replaces bytes that are not UTF-8 rather than reading them as Latin-1", () => {
    expect(decodeAnswer(Uint8Array.from([0x61, 0xe9, 0x62]))).toBe("a\uFFFDb");
  });
});
