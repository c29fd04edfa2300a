import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigError, describeError } from "@queuescale/core";
import type { Handler } from "./message.js";

/**
 * Loads the user's handler: a module exporting `handle(message, context)` by name or as default
 * (a function, or an object with a `handle` method). A path is resolved against the working
 * directory; anything else is imported as a package name.
 */
export async function loadHandler(specifier: string, setting = "HANDLER"): Promise<Handler> {
  const asPath = isAbsolute(specifier) ? specifier : resolve(process.cwd(), specifier);
  const target = existsSync(asPath) ? pathToFileURL(asPath).href : specifier;
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(target)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(setting, `cannot load the module it names (${describeError(error).split("\n")[0]})`);
  }
  const handler = pickHandler(loaded);
  if (!handler) throw new ConfigError(setting, "the module exports no `handle` function (named or default)");
  return handler;
}

function pickHandler(loaded: Record<string, unknown>): Handler | undefined {
  if (typeof loaded.handle === "function") return loaded.handle as Handler;
  const fallback = loaded.default;
  if (typeof fallback === "function") return fallback as Handler;
  if (typeof fallback === "object" && fallback !== null) {
    const method = (fallback as { handle?: unknown }).handle;
    if (typeof method === "function") return method.bind(fallback) as Handler;
  }
  return undefined;
}
