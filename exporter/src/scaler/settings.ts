import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError, optionalListenAddressSetting } from "@queuescale/core";

/** Settings of KEDA's external scaler service, named as gRPC servers in the ecosystem name them. */
export const scalerSettings = {
  SCALER_LISTEN_ADDRESS: optionalListenAddressSetting().describe(
    "host:port for KEDA's external scaler gRPC service (externalscaler.ExternalScaler), e.g. 0.0.0.0:9424. Off when unset.",
  ),
  SCALER_TLS_CERT_FILE: z
    .string()
    .optional()
    .describe(
      "PEM certificate (chain) of the scaler service; with SCALER_TLS_KEY_FILE turns TLS on. Plaintext when unset.",
    ),
  SCALER_TLS_KEY_FILE: z.string().optional().describe("PEM private key of SCALER_TLS_CERT_FILE."),
  SCALER_TLS_CLIENT_CA_FILE: z
    .string()
    .optional()
    .describe(
      "PEM CA bundle; when set, clients must present a certificate it signed (KEDA's tlsClientCert/tlsClientKey).",
    ),
};

export type ScalerSettings = z.infer<z.ZodObject<typeof scalerSettings>>;

/** What the scaler server needs, files read: undefined when the service is off. */
export interface ScalerConfig {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa?: Buffer };
}

function readPem(setting: string, path: string): Buffer {
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (error) {
    throw new ConfigError(
      setting,
      `cannot read the file it names (${(error as { code?: string }).code ?? "unreadable"})`,
    );
  }
  if (!content.includes("-----BEGIN ")) throw new ConfigError(setting, "the file it names holds no PEM block");
  return content;
}

/**
 * Checks the settings that only make sense together and reads the TLS files, so a missing or
 * unreadable file exits 2 at start-up rather than failing each handshake.
 */
export function scalerConfig(settings: ScalerSettings): ScalerConfig | undefined {
  const { SCALER_LISTEN_ADDRESS: address, SCALER_TLS_CERT_FILE: cert, SCALER_TLS_KEY_FILE: key } = settings;
  const clientCa = settings.SCALER_TLS_CLIENT_CA_FILE;
  if (!address) {
    const stray = Object.entries({
      SCALER_TLS_CERT_FILE: cert,
      SCALER_TLS_KEY_FILE: key,
      SCALER_TLS_CLIENT_CA_FILE: clientCa,
    }).find(([, value]) => value !== undefined)?.[0];
    if (stray) throw new ConfigError(stray, "needs SCALER_LISTEN_ADDRESS (the scaler service is off without it)");
    return undefined;
  }
  if (cert === undefined && key === undefined) {
    if (clientCa !== undefined) {
      throw new ConfigError("SCALER_TLS_CLIENT_CA_FILE", "needs SCALER_TLS_CERT_FILE and SCALER_TLS_KEY_FILE");
    }
    return { ...address };
  }
  if (cert === undefined) throw new ConfigError("SCALER_TLS_CERT_FILE", "must be set with SCALER_TLS_KEY_FILE");
  if (key === undefined) throw new ConfigError("SCALER_TLS_KEY_FILE", "must be set with SCALER_TLS_CERT_FILE");
  return {
    ...address,
    tls: {
      cert: readPem("SCALER_TLS_CERT_FILE", cert),
      key: readPem("SCALER_TLS_KEY_FILE", key),
      clientCa: clientCa === undefined ? undefined : readPem("SCALER_TLS_CLIENT_CA_FILE", clientCa),
    },
  };
}
