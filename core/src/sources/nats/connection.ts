import { credsAuthenticator, errors, type ConnectionOptions } from "@nats-io/transport-node";
import { JetStreamApiError } from "@nats-io/jetstream";
import { ConfigError } from "../../config.js";
import type { PollErrorReason } from "../../contract.js";
import { classifyPollError, describeError, redactUrl } from "../errors.js";
import { SourceError } from "../types.js";

export interface NatsCredentials {
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
  NATS_TOKEN?: string | undefined;
  NATS_CREDS?: string | undefined;
}

/**
 * Client options for NATS_URL plus the credential settings. Credentials written into the URL
 * (`nats://user:pass@host` or `nats://token@host`) are taken out of it, because the client would
 * otherwise carry the URL, password and all, into its error messages; explicit settings win over
 * the URL.
 */
export function natsConnectionOptions(url: string, credentials: NatsCredentials): ConnectionOptions {
  const parsed = new URL(url);
  const fromUrl = {
    user: decodeURIComponent(parsed.username),
    pass: decodeURIComponent(parsed.password),
  };
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
  } else if (fromUrl.user && fromUrl.pass) {
    options.user = fromUrl.user;
    options.pass = fromUrl.pass;
  } else if (fromUrl.user) {
    options.token = fromUrl.user;
  }
  return options;
}

/** `nats://host:port` without credentials, for the source's name and logs. */
export function natsServerLabel(url: string): string {
  return redactUrl(url)
    .replace(/^[a-z]+:\/\/(\*\*\*@)?/i, "")
    .replace(/\/$/, "");
}

/**
 * A NATS client or JetStream API failure as a SourceError with the contract's reason. The client's
 * messages never hold credentials (they are not part of the server URL it knows), but they pass
 * through describeError anyway.
 */
export function natsSourceError(error: unknown, doing: string): SourceError {
  if (error instanceof SourceError) return error;
  const message = `${doing}: ${describeError(error)}`;
  const reason = natsErrorReason(error);
  return new SourceError(reason, message, { cause: error });
}

function natsErrorReason(error: unknown): PollErrorReason {
  if (error instanceof errors.TimeoutError) return "timeout";
  if (
    error instanceof errors.AuthorizationError ||
    error instanceof errors.UserAuthenticationExpiredError ||
    error instanceof errors.PermissionViolationError
  ) {
    return "auth";
  }
  if (
    error instanceof errors.ConnectionError ||
    error instanceof errors.ClosedConnectionError ||
    error instanceof errors.DrainingConnectionError
  ) {
    return "connection";
  }
  if (error instanceof errors.NoRespondersError) return "not_found";
  // Not exported by the client, only recognisable by name: no JetStream on that server/account.
  if (error instanceof Error && error.name === "JetStreamNotEnabled") return "not_found";
  if (error instanceof JetStreamApiError) return error.status === 403 ? "auth" : "unknown";
  if (error instanceof errors.RequestError) {
    return error.isNoResponders() ? "not_found" : natsErrorReason(error.cause);
  }
  return classifyPollError(error);
}
