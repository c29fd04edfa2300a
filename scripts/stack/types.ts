/** What the demo needs to know and do for one broker. */
export interface BrokerPlan {
  /** The HPA selector with the names this run really uses (made unique when asked). */
  selector: Selector;
  /** Environment of the worker, producer and exporter for this broker. */
  env: Record<string, string>;
  /** The queue name in the producer API. */
  queue: string;
  describe: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
}

export type Selector = Record<string, string>;

/** Builds a plan from the overlay's HPA selector; `suffix` makes the broker objects unique to this run. */
export type PlanFactory = (selector: Selector, suffix?: string) => BrokerPlan;
