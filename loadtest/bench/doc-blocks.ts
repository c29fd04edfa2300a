/**
 * docs/benchmarks.md is written by more than one benchmark: `make bench-peers` writes the page,
 * and `make bench-exporter` owns a block of it between two markers. Each keeps the other's part:
 * bench-peers carries the block over when it rewrites the page, bench-exporter replaces only the
 * block.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** The block `make bench-exporter` writes: the size sweep, its chart and the scrape figures. */
export const EXPORTER_BLOCK = "exporter-sweep";

const begin = (name: string) => `<!-- ${name}: begin; written by make bench-exporter -->`;
const end = (name: string) => `<!-- ${name}: end -->`;

/** The block's content in `text`, without its markers; undefined when the page has none. */
export function readBlock(text: string, name: string): string | undefined {
  const start = text.indexOf(begin(name));
  const stop = text.indexOf(end(name));
  if (start < 0 || stop < start) return undefined;
  return text.slice(start + begin(name).length, stop).replace(/^\n+|\n+$/g, "");
}

/** `text` without the block (its markers included); the block is rendered in a place of its own. */
export function withoutBlock(text: string, name: string): string {
  const start = text.indexOf(begin(name));
  const stop = text.indexOf(end(name));
  if (start < 0 || stop < start) return text;
  return `${text.slice(0, start).trimEnd()}\n${text.slice(stop + end(name).length)}`;
}

/** The block with its markers, for a page being rendered. */
export function renderBlock(name: string, content: string): string {
  return `${begin(name)}\n\n${content.trim()}\n\n${end(name)}`;
}

/** Replaces the block in the file (or adds it at the end when the page has none). */
export function writeBlock(file: string, name: string, content: string): void {
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const start = text.indexOf(begin(name));
  const stop = text.indexOf(end(name));
  const block = renderBlock(name, content);
  const next =
    start >= 0 && stop > start
      ? `${text.slice(0, start)}${block}${text.slice(stop + end(name).length)}`
      : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}
