/**
 * Settings and Ctrl-C handling shared by the scripts that run the local stack (`make demo`,
 * `make loadtest`): a bad setting exits 2 naming it, before anything starts.
 */
import { BROKER_PLANS } from "./brokers.js";

function badSetting(message: string): never {
  console.error(message);
  process.exit(2);
}

/** A positive number from the environment, `fallback` when the variable is unset or empty. */
export function positiveSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) badSetting(`${name} must be a positive number, got "${raw}"`);
  return value;
}

/** BROKER, one of the brokers the local stack has a plan for (default rabbitmq). */
export function brokerSetting(): string {
  const broker = process.env.BROKER || "rabbitmq";
  if (!(broker in BROKER_PLANS)) {
    badSetting(`BROKER must be one of ${Object.keys(BROKER_PLANS).join(", ")}, got "${broker}"`);
  }
  return broker;
}

/**
 * Watches for SIGINT and SIGTERM: the first one asks the run to stop cleanly (the returned
 * function answers whether it came), a second one ends the process as Node would.
 */
export function watchInterrupt(): () => boolean {
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    console.log("\nstopping…");
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return () => interrupted;
}
