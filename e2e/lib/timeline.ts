/** What happened when, for one scenario; printed at the end of the run. */
export interface TimelineEvent {
  readonly at: number;
  readonly source: "step" | "metric" | "hpa" | "keda" | "deployment" | "check";
  readonly text: string;
}

export class Timeline {
  readonly events: TimelineEvent[] = [];
  readonly startedAt = Date.now();

  constructor(readonly title: string) {}

  add(source: TimelineEvent["source"], text: string, at = Date.now()): number {
    this.events.push({ at, source, text });
    return at;
  }

  /** Seconds since the scenario started, as the timeline prints them. */
  offset(at: number): string {
    return `+${((at - this.startedAt) / 1000).toFixed(1).padStart(6)} s`;
  }

  render(): string {
    const lines = [`── ${this.title} ──`];
    for (const event of [...this.events].sort((a, b) => a.at - b.at)) {
      lines.push(`${this.offset(event.at)}  ${event.source.padEnd(10)} ${event.text}`);
    }
    return lines.join("\n");
  }
}

export interface CheckResult {
  readonly scenario: string;
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Expectations of the whole run; the closing line counts them. */
export class Checks {
  readonly results: CheckResult[] = [];

  record(scenario: string, name: string, ok: boolean, detail: string): boolean {
    this.results.push({ scenario, name, ok, detail });
    return ok;
  }

  get failed(): number {
    return this.results.filter((result) => !result.ok).length;
  }

  get passed(): number {
    return this.results.filter((result) => result.ok).length;
  }

  render(): string {
    return this.results
      .map((result) => `${result.ok ? "PASS" : "FAIL"}  [${result.scenario}] ${result.name}: ${result.detail}`)
      .join("\n");
  }
}
