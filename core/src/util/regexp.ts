/** `text` with every character that means something in a regular expression escaped. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A pattern that matches exactly `text` and nothing else (for the *_INCLUDE settings). */
export function exactPattern(text: string): string {
  return `^${escapeRegExp(text)}$`;
}
