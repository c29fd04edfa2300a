import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const README = fileURLToPath(new URL("../../README.md", import.meta.url));

/** The README as it is on disk. */
export function readmeText(): string {
  return readFileSync(README, "utf8");
}

/** Rows of the markdown table between `<!-- NAME:start -->` and `<!-- NAME:end -->` in the README. */
export function readmeTable(name: string): string[][] {
  const text = readmeText();
  const start = text.indexOf(`<!-- ${name}:start -->`);
  const end = text.indexOf(`<!-- ${name}:end -->`);
  if (start < 0 || end < start) throw new Error(`README has no ${name} table markers`);
  return text
    .slice(start, end)
    .split("\n")
    .filter((line) => line.startsWith("|"))
    .slice(2)
    .map((line) =>
      line
        .slice(1, -1)
        .split("|")
        .map((cell) => cell.trim()),
    );
}

/** Names written in backticks inside a table cell. */
export function codeNames(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
}
