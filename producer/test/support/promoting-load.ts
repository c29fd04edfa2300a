/**
 * Run as a child process by heap-growth.test.ts: allocates the way an upload does (a rolling set of
 * objects that outlive the young generation, then die) and prints the largest heap it saw, in
 * bytes. With `limit` as its argument it first calls limitHeapGrowth().
 */
import { getHeapStatistics } from "node:v8";
import { limitHeapGrowth } from "../../src/heap-growth.js";

if (process.argv[2] === "limit") limitHeapGrowth([], "");

// Long-lived: what a producer holds anyway (about 16 MiB).
const resident = Array.from({ length: 2_000 }, (_, index) => ({ index, text: `${index}`.padEnd(8_000, "x") }));
// Rows in flight: each lives while 60,000 more are made, long enough to be promoted.
const inFlight: { line: number; body: string }[] = new Array(60_000);
let peak = 0;
for (let line = 0; line < 3_000_000; line++) {
  inFlight[line % inFlight.length] = { line, body: `{"line":${line},"note":"${"row ".repeat(20)}"}` };
  if (line % 5_000 === 0) peak = Math.max(peak, getHeapStatistics().total_heap_size);
}
process.stdout.write(`${peak} ${resident.length}\n`);
