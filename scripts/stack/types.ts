/** What the demo needs to know and do for one broker. */
export interface BrokerPlan {
  /** Environment of the worker, producer and exporter for this broker. */
  env: Record<string, string>;
  /** The queue name in the producer API. */
  queue: string;
  describe: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
}

export type Selector = Record<string, string>;
