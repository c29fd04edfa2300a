import { credsAuthenticator, type ConnectionOptions } from "@nats-io/transport-node";
import { ConfigError } from "@queuescale/core";

export interface NatsCredentials {
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
  NATS_TOKEN?: string | undefined;
  NATS_CREDS?: string | undefined;
}

/**
 * Client options for NATS_URL and the credential settings, read the way core's JetStream source
 * reads them. Credentials in the URL are moved into options: the client repeats its server URL in
 * error messages. Explicit settings win over the URL.
 */
export function natsConnectionOptions(url: string, credentials: NatsCredentials): ConnectionOptions {
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username);
  const pass = decodeURIComponent(parsed.password);
  parsed.username = "";
  parsed.password = "";
  const options: ConnectionOptions = { servers: parsed.toString().replace(/\/$/, "") };
  if (credentials.NATS_USER !== undefined && credentials.NATS_PASSWORD === undefined) {
    throw new ConfigError("NATS_PASSWORD", "must be set together with NATS_USER");
  }
  if (credentials.NATS_CREDS !== undefined) {
    options.authenticator = credsAuthenticator(new TextEncoder().encode(credentials.NATS_CREDS));
  } else if (credentials.NATS_TOKEN !== undefined) {
    options.token = credentials.NATS_TOKEN;
  } else if (credentials.NATS_USER !== undefined) {
    options.user = credentials.NATS_USER;
    options.pass = credentials.NATS_PASSWORD;
  } else if (user && pass) {
    options.user = user;
    options.pass = pass;
  } else if (user) {
    options.token = user;
  }
  return options;
}
