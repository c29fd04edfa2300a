import { waitFor as waitUntil, type WaitOptions } from "@queuescale/core";

export { freePort } from "@queuescale/core";

/** Polls until `check` returns something other than undefined, every half second unless told otherwise. */
export function waitFor<T>(
  check: () => Promise<T | undefined>,
  options: WaitOptions & { timeoutMs: number; what: string },
): Promise<T> {
  return waitUntil(check, { intervalMs: 500, ...options });
}

/** Resolves once an HTTP GET of `url` answers 2xx. */
export async function httpOk(url: string): Promise<true | undefined> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await response.body?.cancel();
  return response.ok ? true : undefined;
}
