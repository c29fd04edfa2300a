import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { ConfigError } from "@queuescale/core";

/** The whole of stdin, for `-` arguments and `decide`. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** A file named by a flag, or stdin for `-`; a missing file is a bad setting, not a crash. */
export async function readSource(flag: string, path: string): Promise<string> {
  if (path === "-") return readStdin();
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code ?? "unreadable";
    throw new ConfigError(flag, `cannot read ${path} (${code})`);
  }
}

/** A number flag: finite, and at least `min`. */
export function numberFlag(flag: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < min) {
    throw new ConfigError(flag, `must be a number ≥ ${min}`);
  }
  return value;
}

/** A whole-number flag, at least `min`. */
export function intFlag(flag: string, raw: string | undefined, fallback: number, min = 0): number {
  const value = numberFlag(flag, raw, fallback, min);
  if (!Number.isInteger(value)) throw new ConfigError(flag, "must be a whole number");
  return value;
}

/** Checks the --chart file name before any work, so a typo fails fast with exit 2. */
export function chartFormat(path: string): "svg" | "png" {
  const extension = extname(path).toLowerCase();
  if (extension === ".svg" || extension === ".png") return extension.slice(1) as "svg" | "png";
  throw new ConfigError("--chart", "must name a .svg or .png file");
}
