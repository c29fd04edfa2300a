import { randomUUID } from "node:crypto";
import type { BrokerName } from "@queuescale/core";

/** Objects one run creates on a shared broker, under names no other run uses. */
export interface BrokerFixture {
  readonly broker: BrokerName;
  /** What the run calls the unit of work in its timeline, e.g. `vhost/queue`. */
  readonly description: string;
  /** matchLabels that replace the overlay's HPA metric selector. */
  readonly selector: Record<string, string>;
  /**
   * ConfigMap literals merged over the overlay's, per generated ConfigMap (queuescale-worker, …).
   * The workers consume a queue of their own (`idle`), not the one the HPA reads: the control-plane
   * checks need a backlog that stays put.
   */
  readonly settings: Record<string, Record<string, string>>;
  /** The broker port the exporter reads from; the run relays it on a port it can cut. */
  readonly exporterUpstreamPort: number;
  /** The broker port the workers and the producer use; the run relays it too. */
  readonly clientUpstreamPort: number;
  /**
   * The Secret `queuescale-broker` the overlay mounts: key → content, with the broker addresses
   * replaced by the relays' (`host:port`): one the exporter reads through, one for the others.
   */
  secret(relays: { exporter: string; clients: string }): Record<string, string>;
  /** Worker settings (env) that make the workers consume the queue the HPA reads: the closed loop. */
  readonly drainingWorker: Record<string, string>;
  /** The queue NAME the producer's API publishes to for that queue. */
  readonly producerQueue: string;
  publish(count: number): Promise<void>;
  /** Empties the queue (stream) so the backlog is zero. */
  purge(): Promise<void>;
  /** Deletes everything the fixture created; safe to call twice. */
  dispose(): Promise<void>;
}

export interface BrokerModule {
  readonly broker: BrokerName;
  /** Creates the queue (stream, consumer) on the shared local broker. */
  create(): Promise<BrokerFixture>;
}

/** The producer's admin token in the run's Secret (the producer wants at least 16 characters). */
export const ADMIN_TOKEN = `e2e-${randomUUID()}`;
