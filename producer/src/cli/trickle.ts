import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { onShutdownSignal, type ReadSettingsOptions } from "@queuescale/core";
import type { Command } from "./args.js";
import { openSession } from "./session.js";

/**
 * Publishes one synthetic JSON message every MESSAGE_INTERVAL (--interval) until SIGINT/SIGTERM,
 * then lets the last publish finish and exits 0. A tick that finds the previous publish still
 * waiting for its confirm is skipped rather than piling up behind a slow broker.
 */
export async function runTrickle(command: Command, options: ReadSettingsOptions): Promise<void> {
  const { client, settings, logger } = await openSession(command.queue, options);
  const source = hostname();
  let sequence = 0;
  let published = 0;
  let failing = 0;
  let pending: Promise<void> | undefined;

  const tick = () => {
    if (pending) return;
    sequence++;
    const body = { seq: sequence, sentAt: new Date().toISOString(), source };
    const message = {
      id: randomUUID(),
      body: Buffer.from(JSON.stringify(body)),
      contentType: "application/json",
      headers: {},
    };
    pending = client
      .publish(command.queue, [message])
      .then(([outcome]) => {
        if (!outcome) return;
        if (outcome.ok) {
          if (failing > 0) logger.info({ failed: failing }, "messages accepted again");
          failing = 0;
          published++;
          return;
        }
        // One warning per outage, not one per tick.
        if (failing++ === 0) {
          logger.warn({ seq: sequence, reason: outcome.reason, detail: outcome.detail }, "message not accepted");
        }
      })
      .finally(() => {
        pending = undefined;
      });
  };
  const timer = setInterval(tick, settings.MESSAGE_INTERVAL);
  tick();
  logger.info({ queue: command.queue, intervalMs: settings.MESSAGE_INTERVAL }, "trickling messages");

  onShutdownSignal(async (signal) => {
    clearInterval(timer);
    await pending;
    await client.close();
    logger.info({ signal, published }, "stopped trickling");
  });
}
