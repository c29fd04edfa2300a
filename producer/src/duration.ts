import { z } from "zod";

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `200ms`, `1.5s`, `2m`, `1h`; a bare number is milliseconds. Undefined when it is none of those. */
export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] ?? "ms"]!;
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** A positive duration setting, in milliseconds once parsed. */
export function durationSetting(defaultValue: string) {
  return z
    .string()
    .default(defaultValue)
    .transform((value, context) => {
      const ms = parseDurationMs(value);
      if (ms === undefined) {
        context.addIssue({ code: "custom", message: "must be a positive duration such as 200ms, 1s or 2m" });
        return z.NEVER;
      }
      return ms;
    });
}
