import { errors, type ConnectionOptions } from "@nats-io/transport-node";
import { JetStreamApiError } from "@nats-io/jetstream";
import type { PollErrorReason } from "../../contract.js";
import { classifyPollError, describeError } from "../../sources/errors.js";
import { SourceError } from "../../sources/types.js";

/**
 * Client options for NATS_URL. Credentials written into the URL (`nats://user:pass@host` or
 * `nats://token@host`; mount it from a Secret with NATS_URL_FILE) are taken out of it and passed as
 * options, because the client would otherwise carry the URL, password and all, into its error
 * messages.
 */
export function natsConnectionOptions(url: string): ConnectionOptions {
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username);
  const pass = decodeURIComponent(parsed.password);
  parsed.username = "";
  parsed.password = "";
  const options: ConnectionOptions = { servers: parsed.toString().replace(/\/$/, "") };
  // The client ignores the scheme; `tls://` has to be spelt out as an option to require TLS
  // (verified against the system CAs, or NODE_EXTRA_CA_CERTS).
  if (parsed.protocol === "tls:") options.tls = {};
  if (user && pass) {
    options.user = user;
    options.pass = pass;
  } else if (user) {
    options.token = user;
  }
  return options;
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

export function natsErrorReason(error: unknown): PollErrorReason {
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
