import type { Logger } from "pino";
import { DEFAULT_MAX_RESPONSE_BYTES } from "../../sources/body.js";
import { getBytes, getText, httpEndpoint, type HttpEndpoint } from "../../sources/http-get.js";
import type { NameFilter } from "../../sources/filter.js";
import type { DepthSource, Snapshot } from "../../sources/types.js";
import {
  DurableConsumers,
  JSZ_PATH,
  JSZ_PATH_WITH_CONFIG,
  jszReadings,
  needsServerName,
  parseJszAnswer,
  parseVarzServerName,
  type JszReport,
} from "./jsz.js";

export interface JszSourceOptions {
  /** Monitoring base URL of one server, e.g. `http://nats-0.nats:8222`. */
  url: string;
  filter: NameFilter;
  logger: Logger;
  /** The largest answer read (MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number;
}

/**
 * Reads durable consumers from one server's monitoring endpoint (`/jsz`). With several servers
 * there is one source per server; each reports only the consumers it leads, so together they
 * cover the cluster once. No oldest-message age: `/jsz` does not know it.
 */
export class JszSource implements DepthSource {
  readonly broker = "nats" as const;
  readonly name: string;
  private readonly endpoint: HttpEndpoint;
  /** The server's name, learnt from /varz once; forgotten on a failure (a restart may rename it). */
  private serverName: string | undefined;
  private readonly durables = new DurableConsumers();
  /** Start with config: nothing is known yet. */
  private askWithConfig = true;

  constructor(private readonly options: JszSourceOptions) {
    this.endpoint = httpEndpoint(options.url, undefined, options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
    this.name = `jsz@${this.endpoint.base.host}`;
  }

  async poll(signal: AbortSignal): Promise<Snapshot> {
    try {
      const report = await this.consumers(signal);
      let serverName = report.serverName;
      if (serverName === undefined && needsServerName(report)) {
        this.serverName ??= parseVarzServerName(await this.get("/varz", signal));
        serverName = this.serverName;
      }
      const readings = jszReadings(report, serverName, this.options.filter, this.durables.isDurable);
      return { readings, takenAtMs: Date.now() };
    } catch (error) {
      this.serverName = undefined;
      throw error;
    }
  }

  /**
   * The consumers, asked for without config when every consumer is known to be durable or not.
   * Consumers that came and went since the last answer with config cost a second request; when
   * an answer with config still shows new consumers, the next poll asks with config straight
   * away, so a server where consumers keep coming (ephemeral ones) costs one request per poll.
   */
  private async consumers(signal: AbortSignal): Promise<JszReport> {
    if (!this.askWithConfig) {
      const report = parseJszAnswer(await this.getBytes(JSZ_PATH, signal));
      if (this.durables.knowsAll(report)) return report;
    }
    const report = parseJszAnswer(await this.getBytes(JSZ_PATH_WITH_CONFIG, signal));
    this.askWithConfig = this.durables.learn(report) > 0;
    return report;
  }

  private url(path: string): URL {
    // The paths carry their own query; the base may have a path prefix (a reverse proxy).
    return new URL(`${this.endpoint.base.toString().replace(/\/+$/, "")}${path}`);
  }

  private get(path: string, signal: AbortSignal): Promise<string> {
    return getText(this.endpoint, this.url(path), signal, "application/json");
  }

  private getBytes(path: string, signal: AbortSignal): Promise<Buffer> {
    return getBytes(this.endpoint, this.url(path), signal, "application/json");
  }

  async close(): Promise<void> {
    // Nothing held open beyond the idle keep-alive connections of Node's agent.
  }
}
