import type { BrokerName } from "@queuescale/core";

/** Objects one run creates on a shared broker, under names no other run uses. */
export interface BrokerFixture {
  readonly broker: BrokerName;
  /** What the run calls the unit of work in its timeline, e.g. `vhost/queue`. */
  readonly description: string;
  /** matchLabels that replace the overlay's HPA metric selector. */
  readonly selector: Record<string, string>;
  /** ConfigMap literals merged over the overlay's, per generated ConfigMap (queuescale-worker, …). */
  readonly settings: Record<string, Record<string, string>>;
  /** The broker port the exporter reads from; the run puts a cuttable TCP proxy in front of it. */
  readonly exporterUpstreamPort: number;
  /**
   * The Secret `queuescale-broker` the overlay mounts, as the exporter needs it: key → content,
   * with the broker address replaced by the proxy's.
   */
  secretFor(proxyPort: number): Record<string, string>;
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
