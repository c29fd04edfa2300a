import { ConfigError, describeError, type ReadSettingsOptions } from "@queuescale/core";
import { connectBroker } from "../server.js";
import type { BrokerClient } from "../brokers/types.js";
import type { ProducerSettings } from "../settings.js";
import type { Logger } from "@queuescale/core";

/** A command that could not do its job: one line on stderr and exit code 1, no stack trace. */
export class CommandFailure extends Error {
  override name = "CommandFailure";
}

/** How long a command waits for the broker before giving up. */
const CONNECT_TIMEOUT_MS = 30_000;

/** Connects for a CLI command and checks that the queue exists; exits through runMain on failure. */
export async function openSession(
  queue: string,
  options: ReadSettingsOptions,
): Promise<{ settings: ProducerSettings; client: BrokerClient; logger: Logger }> {
  const session = connectBroker(options);
  const { client } = session;
  const invalid = client.invalidQueueName(queue);
  if (invalid) {
    await client.close();
    throw new ConfigError("--queue", invalid);
  }
  try {
    await client.waitUntilConnected(AbortSignal.timeout(CONNECT_TIMEOUT_MS));
    if (!(await client.queueExists(queue))) throw new Error(`queue ${queue} not found`);
  } catch (error) {
    await client.close();
    throw new CommandFailure(`cannot publish to ${client.broker} queue ${queue}: ${describeError(error)}`, {
      cause: error,
    });
  }
  return session;
}
