import type { ConnectionOptions } from "@nats-io/transport-node";

/**
 * Client options for NATS_URL, read the way core's JetStream source reads it: `user:pass@` or
 * `token@` in the URL. Credentials are moved out of the server URL because the client repeats that
 * URL in its error messages.
 */
export function natsConnectionOptions(url: string): ConnectionOptions {
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username);
  const pass = decodeURIComponent(parsed.password);
  parsed.username = "";
  parsed.password = "";
  const options: ConnectionOptions = { servers: parsed.toString().replace(/\/$/, "") };
  if (user && pass) {
    options.user = user;
    options.pass = pass;
  } else if (user) {
    options.token = user;
  }
  return options;
}
