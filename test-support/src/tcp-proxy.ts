import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

/**
 * A loopback TCP proxy a test puts between a client and a shared broker, so it can simulate an
 * outage (cut) and a recovery (restore) without touching the broker itself.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Each open connection's two directions, so forwarding can be paused and resumed. */
  private readonly links = new Set<{ from: Socket; to: Socket }>();
  private listening = false;
  private paused = false;
  port = 0;

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = "127.0.0.1",
    /** Where it accepts: loopback, or (make e2e) the address of a bridge the run created. */
    private readonly listenHost = "127.0.0.1",
  ) {}

  /** Starts accepting on a free port (or the port it had before a cut). */
  async start(): Promise<number> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const links = [
        { from: client, to: upstream },
        { from: upstream, to: client },
      ];
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
        for (const link of links) this.links.delete(link);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      for (const link of links) {
        this.links.add(link);
        if (this.paused) link.from.pause();
        else link.from.pipe(link.to);
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, this.listenHost, () => resolve());
    });
    this.server = server;
    this.listening = true;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  /** Drops every open connection and refuses new ones, as a dead broker or network would. */
  async cut(): Promise<void> {
    if (!this.listening || !this.server) return;
    this.listening = false;
    const server = this.server;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  /**
   * Stops forwarding in both directions without closing anything, as a black-holed network does:
   * bytes sent either way wait (and the sender's buffers fill) until resume(). Connections made
   * meanwhile are accepted but carry nothing either.
   */
  pause(): void {
    this.paused = true;
    for (const { from, to } of this.links) {
      from.unpipe(to);
      from.pause();
    }
  }

  /** Forwards again what waited and what comes next. */
  resume(): void {
    this.paused = false;
    for (const { from, to } of this.links) from.pipe(to);
  }

  /** Accepts connections again on the same port. */
  async restore(): Promise<void> {
    if (this.listening) return;
    await this.start();
  }

  async close(): Promise<void> {
    await this.cut();
  }

  /** `host:port` of the proxy. */
  get address(): string {
    return `${this.listenHost}:${this.port}`;
  }
}
