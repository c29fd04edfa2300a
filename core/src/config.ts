import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import { Re2Pattern } from "./sources/filter.js";

/**
 * Settings come from environment variables named as documented (RABBITMQ_URL, …), from the
 * matching flags (--rabbitmq-url), which win, and for any setting from a file named by
 * `<SETTING>_FILE`, so Kubernetes Secrets can be mounted instead of put into the environment.
 */

/** A bad setting: exit code 2 and one line that names it. */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`invalid ${setting}: ${message}`);
    this.name = "ConfigError";
  }
}

export type SettingsShape = Record<string, z.ZodType>;

/** `RABBITMQ_URL` → `rabbitmq-url`. */
export function flagName(setting: string): string {
  return setting.toLowerCase().replace(/_/g, "-");
}

export interface ReadSettingsOptions {
  env?: NodeJS.ProcessEnv;
  argv?: string[];
}

function collectRawValues(
  shape: SettingsShape,
  { env = process.env, argv = [] }: ReadSettingsOptions,
): Record<string, string | undefined> {
  const flagOptions: Record<string, { type: "string" }> = {};
  for (const setting of Object.keys(shape)) flagOptions[flagName(setting)] = { type: "string" };
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({ args: argv, options: flagOptions, strict: true, allowPositionals: false }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (error) {
    const unknown = /'(--?[^']+)'/.exec(error instanceof Error ? error.message : "")?.[1] ?? "arguments";
    throw new ConfigError(unknown, error instanceof Error ? error.message.split("\n")[0]! : String(error));
  }

  const raw: Record<string, string | undefined> = {};
  for (const setting of Object.keys(shape)) {
    const fromFlag = flags[flagName(setting)];
    const fromEnv = env[setting];
    let value = typeof fromFlag === "string" ? fromFlag : fromEnv;
    const fileSetting = `${setting}_FILE`;
    const file = env[fileSetting];
    if ((value === undefined || value === "") && file) {
      try {
        // Secrets are mounted with a trailing newline more often than not.
        value = readFileSync(file, "utf8").replace(/\r?\n$/, "");
      } catch (error) {
        const code = (error as { code?: string }).code ?? "unreadable";
        throw new ConfigError(fileSetting, `cannot read the file it names (${code})`);
      }
    }
    raw[setting] = value === "" ? undefined : value;
  }
  return raw;
}

/**
 * Reads and validates settings. Throws ConfigError naming the first bad setting; never echoes the
 * value, which may hold a credential.
 */
export function readSettings<S extends SettingsShape>(
  shape: S,
  options: ReadSettingsOptions = {},
): z.infer<z.ZodObject<S>> {
  const raw = collectRawValues(shape, options);
  const result = z.object(shape).safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const setting = String(issue.path[0] ?? "configuration");
    throw new ConfigError(setting, issue.message);
  }
  return result.data as z.infer<z.ZodObject<S>>;
}

/** Help text listing each setting, its flag and its description. */
export function settingsHelp(program: string, summary: string, shape: SettingsShape): string {
  const lines = [`Usage: ${program} [--flag value …]`, "", summary, "", "Settings (environment variable / flag):"];
  for (const [setting, schema] of Object.entries(shape)) {
    lines.push(`  ${setting}  --${flagName(setting)}`);
    if (schema.description) lines.push(`      ${schema.description}`);
  }
  lines.push("", "Any setting can also be read from a file named by <SETTING>_FILE (for Kubernetes Secrets).");
  return lines.join("\n");
}

/* ---- Reusable schema pieces (each a zod schema over the raw string) ---- */

/** A URL with one of the given protocols. */
export function urlSetting(protocols: readonly string[]) {
  return z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol.replace(/:$/, ""));
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}://`).join(" or ")}` },
  );
}

/** The raw value split at commas, each part trimmed, empty parts dropped. */
function commaSeparated() {
  return z.string().transform((value) =>
    value
      .split(",")
      .map((part) => part.trim())
      .filter((part) => part.length > 0),
  );
}

/** A comma-separated list of URLs. */
export function urlListSetting(protocols: readonly string[]) {
  return commaSeparated().pipe(z.array(urlSetting(protocols)).min(1, { message: "must list at least one URL" }));
}

/**
 * A comma-separated list of names. Given but empty (`","`, `" , "`) is an error rather than "no
 * filter": a list that names nothing is a typo, never what an operator meant.
 */
export function listSetting() {
  return commaSeparated().pipe(z.array(z.string()).min(1, { message: "must list at least one name" }));
}

/**
 * A regular expression in RE2 syntax, matched in time linear in the name (see Re2Pattern). A
 * pattern RE2 does not accept (a backreference, lookahead or lookbehind, a syntax error) is a bad
 * setting: exit 2 at start-up rather than a filter that quietly matches something else.
 */
export function regexSetting() {
  return z.string().transform((value, context) => {
    try {
      return new Re2Pattern(value);
    } catch (error) {
      const reason = (error instanceof Error ? error.message : String(error)).replace(/^error parsing regexp: /, "");
      context.addIssue({
        code: "custom",
        message: `not a regular expression RE2 accepts (${reason}); RE2 has no backreferences, lookahead or lookbehind`,
      });
      return z.NEVER;
    }
  });
}

/** The documented bounds of a numeric setting, inclusive. */
export interface Range {
  min: number;
  max: number;
}

/** "between 0.1 and 3600": how a range reads in errors and --help. */
export function describeRange({ min, max }: Range): string {
  return `between ${min} and ${max}`;
}

/**
 * A number of seconds within a documented range. Every duration needs one: past about 24.8 days
 * (2^31 - 1 ms) Node's timers fire at once, and tiny values turn a poll into a busy loop.
 */
export function secondsSetting(defaultSeconds: number, range: Range) {
  const message = `must be a number of seconds ${describeRange(range)}`;
  return z.coerce
    .number({ message })
    .refine((value) => value >= range.min && value <= range.max, { message })
    .default(defaultSeconds);
}

/** A whole number within a documented range. */
export function countSetting(defaultCount: number, range: Range) {
  const message = `must be a whole number ${describeRange(range)}`;
  return z.coerce
    .number({ message })
    .refine((value) => Number.isInteger(value) && value >= range.min && value <= range.max, { message })
    .default(defaultCount);
}

const HOST_PORT_MESSAGE = "must be host:port, e.g. 0.0.0.0:9422";

/** `host:port`, `:port` or `[v6]:port` → host and port; undefined when it is none of those. */
function parseHostPort(value: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) return undefined;
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}

/** `host:port`, `:port` or `[v6]:port`, as an HTTP server listens. */
export function listenAddressSetting(defaultAddress: string) {
  return z
    .string()
    .default(defaultAddress)
    .transform((value, context) => {
      const address = parseHostPort(value);
      if (!address) {
        context.addIssue({ code: "custom", message: HOST_PORT_MESSAGE });
        return z.NEVER;
      }
      return address;
    });
}

/** Like listenAddressSetting, without a default: unset leaves the listener off. */
export function optionalListenAddressSetting() {
  return z
    .string()
    .optional()
    .transform((value, context) => {
      if (value === undefined) return undefined;
      const address = parseHostPort(value);
      if (!address) {
        context.addIssue({ code: "custom", message: HOST_PORT_MESSAGE });
        return z.NEVER;
      }
      return address;
    });
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export function logLevelSetting() {
  return z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info");
}

export function booleanSetting(defaultValue: boolean) {
  return z
    .enum(["true", "false", "1", "0", "yes", "no"], { message: "must be true or false" })
    .default(defaultValue ? "true" : "false")
    .transform((value) => value === "true" || value === "1" || value === "yes");
}
