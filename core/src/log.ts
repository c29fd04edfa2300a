import { pino, type Logger } from "pino";

export type { Logger };

/**
 * JSON logs on stdout. Fields that may carry a credential are censored even if a caller forgets
 * to redact a URL first.
 */
export function createLogger(name: string, level: string = "info"): Logger {
  return pino({
    name,
    level,
    base: { name },
    redact: {
      paths: [
        "password",
        "*.password",
        "token",
        "*.token",
        "authorization",
        "*.authorization",
        "headers.authorization",
      ],
      censor: "***",
    },
  });
}
