/**
 * About how much text one JSON.parse call gets when a long array is parsed in groups: well under
 * the 128 KiB from which V8 gives a string memory of its own, and large enough that the calls
 * themselves cost little (a call per entry made a 10,000-consumer poll 12 to 20 % slower).
 */
const GROUP_BYTES = 32 * 1024;

/** V8 places a string of more than this many characters in fresh memory of its own. */
const LARGE_STRING_BYTES = 128 * 1024;

/**
 * Node hands a decoded text longer than this (its EXTERN_APEX) to V8 as an external string, in
 * memory of its own that the allocator reuses: a 6 MB `/jsz` answer decoded in 1.9 ms, a 600 KB one
 * in 2.0 ms. Above it, one JSON.parse of the whole text was quicker than groups (13.5 against 19
 * ms at 10,000 consumers), as the groups' strings are garbage the young generation has to collect.
 */
const EXTERNAL_STRING_BYTES = 0xfbee9;

/**
 * True when an answer of this size is parsed faster in groups (parseArrayInGroups) than whole:
 * when its text would be a string of its own in fresh memory.
 */
export function groupsPay(bytes: Uint8Array): boolean {
  return bytes.byteLength > LARGE_STRING_BYTES && bytes.byteLength <= EXTERNAL_STRING_BYTES;
}

/**
 * The elements of a JSON array whose text between its brackets is `bytes[start, end)`, parsed in
 * groups of entries rather than as one string. Broker answers list thousands of consumers in one
 * array; the text of a whole answer between 128 KiB and about 1 MB becomes a string that V8 places
 * in fresh memory every time, and first touches of fresh memory (page faults) cost a virtual
 * machine about as much as the parse. Groups are small strings in memory that is reused.
 *
 * `boundary` is what stands between two entries as the server writes them, starting with the
 * `},` that ends one (`},{"stream_name":`, or `},\n    {` in indented text). A group ends at a
 * boundary, so a boundary that occurs inside an entry instead (in a nested array) leaves a group
 * that is not whole JSON, and the parse throws; so does any other layout. When every group
 * parses, the elements are exactly those of the array. Bytes below 0x80 never occur inside a UTF-8
 * character, so the cuts are safe in any UTF-8 text.
 */
export function parseArrayInGroups(
  bytes: Buffer,
  start: number,
  end: number,
  boundary: Buffer,
  encoding: "latin1" | "utf8",
  groupBytes = GROUP_BYTES,
): unknown[] {
  const elements: unknown[] = [];
  let from = start;
  while (from < end) {
    const cut = bytes.indexOf(boundary, from + groupBytes);
    // After the closing brace; the comma after it is skipped.
    const to = cut < 0 || cut >= end ? end : cut + 1;
    const group = JSON.parse(`[${bytes.toString(encoding, from, to)}]`) as unknown[];
    for (const element of group) elements.push(element);
    from = to + 1;
  }
  return elements;
}
