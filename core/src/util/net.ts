import { createServer, type AddressInfo } from "node:net";

function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen(port, "127.0.0.1", () => {
      const { port: bound } = server.address() as AddressInfo;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A loopback port nothing listens on right now: `preferred` when it is free (so URLs stay
 * familiar), else the kernel's pick. The caller binds it right after.
 */
export async function freePort(preferred?: number): Promise<number> {
  const port = (preferred === undefined ? undefined : await listenOnce(preferred)) ?? (await listenOnce(0));
  if (port === undefined) throw new Error("no free loopback port");
  return port;
}
