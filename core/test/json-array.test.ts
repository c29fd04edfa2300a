import { describe, expect, it } from "vitest";
import { textEncoding } from "../src/sources/body.js";
import { groupsPay, parseArrayInGroups } from "../src/sources/json-array.js";

const entries = Array.from({ length: 40 }, (_unused, index) => ({
  stream_name: index % 2 ? "orders" : "bestellungen-ü",
  name: `c${index}`,
  cluster: { leader: "n1", replicas: [{ name: "n2" }, { name: "n3" }] },
  note: 'quotes " and },{"stream_name": inside a string',
}));

/** `text` as bytes, and where the text between its (outermost) array brackets starts and ends. */
function between(text: string): { bytes: Buffer; start: number; end: number } {
  const bytes = Buffer.from(text);
  return { bytes, start: bytes.indexOf("[") + 1, end: bytes.lastIndexOf("]") };
}

describe("parseArrayInGroups", () => {
  const compact = between(JSON.stringify(entries));
  const boundary = Buffer.from('},{"stream_name":');

  it("reads the elements of a compact array, whatever the group size", () => {
    for (const groupBytes of [1, 100, 1000, 1_000_000]) {
      const { bytes, start, end } = compact;
      expect(parseArrayInGroups(bytes, start, end, boundary, textEncoding(bytes), groupBytes)).toEqual(entries);
    }
  });

  it("reads the elements of an indented array by the boundary at their indentation", () => {
    const { bytes, start, end } = between(JSON.stringify({ list: entries }, null, 2));
    const indented = Buffer.from("},\n    {");
    expect(parseArrayInGroups(bytes, start, end, indented, "utf8", 1)).toEqual(entries);
  });

  it("throws, rather than answer other elements, when the boundary also occurs inside an element", () => {
    const nested = entries.map((entry, index) =>
      index === 3 ? { ...entry, extra: [{ stream_name: "a" }, { stream_name: "b" }] } : entry,
    );
    const { bytes, start, end } = between(JSON.stringify(nested));
    expect(() => parseArrayInGroups(bytes, start, end, boundary, "utf8", 1)).toThrow(SyntaxError);
    // Cut only where the boundary is between elements, the same text reads right.
    expect(parseArrayInGroups(bytes, start, end, boundary, "utf8", 1_000_000)).toEqual(nested);
  });

  it("decodes ASCII as Latin-1 and anything else as UTF-8", () => {
    expect(textEncoding(Buffer.from('{"a":"b"}'))).toBe("latin1");
    expect(textEncoding(Buffer.from('{"a":"ü"}'))).toBe("utf8");
  });

  it("pays between a string of its own (over 128 KiB) and an external one (over about 1 MB)", () => {
    expect(groupsPay(Buffer.alloc(100 * 1024))).toBe(false);
    expect(groupsPay(Buffer.alloc(600 * 1024))).toBe(true);
    expect(groupsPay(Buffer.alloc(6 * 1024 * 1024))).toBe(false);
  });
});
