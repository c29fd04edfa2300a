import { setFlagsFromString } from "node:v8";

/**
 * How far past what survived the last full garbage collection the heap may grow before the next
 * one, in percent.
 *
 * By default V8 lets the old generation grow to up to four times the surviving heap. The producer's
 * live heap is small (20–30 MiB during an upload), but an upload allocates a few KiB for each row
 * (parsing, the message, the broker client's request) and the objects of the rows waiting for their
 * confirms outlive the young generation, so they are promoted at a steady rate: the heap climbed to
 * 110–145 MiB, almost all of it garbage, before each full collection, and the peak RSS to
 * 160–225 MiB. Growing at most 30 % past the live heap keeps the peak RSS of a million-row upload
 * under 150 MiB (126–141 MiB); the full collections it adds are of a small heap (a few ms each), and they
 * did not slow the upload measurably. Unlike --max-old-space-size it caps nothing: a request near
 * MAX_BODY_BYTES still gets all the heap it needs.
 */
export const HEAP_GROWING_PERCENT = 30;

const FLAG = /--heap[-_]growing[-_]percent\b/;

/**
 * Applies HEAP_GROWING_PERCENT to this process unless its operator chose a value (node
 * --heap-growing-percent=N, directly or in NODE_OPTIONS). Says whether it did.
 */
export function limitHeapGrowth(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? "",
): boolean {
  if (execArgv.some((arg) => FLAG.test(arg)) || FLAG.test(nodeOptions)) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
