import { ConfigError, settingsHelp, type SettingsShape } from "./config.js";

/**
 * Runs a command's main function: a ConfigError exits 2 with one line naming the setting, any
 * other failure exits 1.
 */
export function runMain(program: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${program}: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${program}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}

/** Calls `stop` once on SIGTERM or SIGINT; a second signal exits at once. */
export function onShutdownSignal(stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    stop(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}

/**
 * Prints the settings help to stdout when the arguments ask for it (`--help` or `-h`) and says
 * whether they did, so a command's main can return before reading any setting.
 */
export function printHelpIfAsked(
  argv: readonly string[],
  program: string,
  summary: string,
  shape: SettingsShape,
): boolean {
  if (!argv.includes("--help") && !argv.includes("-h")) return false;
  process.stdout.write(`${settingsHelp(program, summary, shape)}\n`);
  return true;
}
