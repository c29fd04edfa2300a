import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

/**
 * A loopback TCP proxy a test puts between a client and a shared broker, so it can simulate an
 * outage (cut) and a recovery (restore) without touching the broker itself.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private listening = false;
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
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      client.pipe(upstream);
      upstream.pipe(client);
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
