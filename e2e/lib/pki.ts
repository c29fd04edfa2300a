import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  await run("openssl", args, { cwd });
}

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface Pki {
  readonly dir: string;
  /** Signs every server and client certificate of the cluster. */
  readonly ca: KeyPair;
  /** The aggregation layer's own CA: extension apiservers trust only it for X-Remote-* headers. */
  readonly frontProxyCa: KeyPair;
  readonly frontProxyClient: KeyPair;
  readonly apiserver: KeyPair;
  /** Client certificate in system:masters, used by every component and by kubectl. */
  readonly admin: KeyPair;
  readonly adapter: KeyPair;
  /**
   * KEDA's one certificate, as its own rotation makes one: the operator's gRPC metrics service
   * serves it, the metrics API server presents it to the operator (mutual TLS) and serves the
   * external metrics API with it.
   */
  readonly keda: KeyPair;
  /** A client certificate for KEDA's service account (keda/keda-operator), so KEDA's own RBAC applies. */
  readonly kedaIdentity: KeyPair;
  /** Signs and verifies service account tokens. */
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
}

export interface PkiNames {
  /** DNS name the aggregator checks on the adapter's serving certificate: `<service>.<namespace>.svc`. */
  adapterServiceDns: string;
  /** The same for KEDA's metrics API server, and the operator's gRPC service name. */
  kedaServiceDns: readonly string[];
}

/** Throwaway CAs and certificates for one run, valid for a day, made with the openssl CLI. */
export async function createPki(dir: string, names: PkiNames): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  const path = (name: string) => join(dir, name);

  async function makeCa(name: string, subject: string): Promise<KeyPair> {
    await openssl(
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        subject,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.crt`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
      ],
      dir,
    );
    return { cert: path(`${name}.crt`), key: path(`${name}.key`) };
  }

  async function issue(
    name: string,
    ca: KeyPair,
    subject: string,
    usage: "server" | "client" | "server and client",
    altNames: readonly string[] = [],
  ): Promise<KeyPair> {
    const extensions = [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      `extendedKeyUsage=${{ server: "serverAuth", client: "clientAuth", "server and client": "serverAuth,clientAuth" }[usage]}`,
      ...(altNames.length > 0 ? [`subjectAltName=${altNames.join(",")}`] : []),
    ];
    await writeFile(path(`${name}.ext`), `${extensions.join("\n")}\n`);
    await openssl(
      [
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        subject,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.csr`,
      ],
      dir,
    );
    await openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        ca.cert,
        "-CAkey",
        ca.key,
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        `${name}.ext`,
        "-out",
        `${name}.crt`,
      ],
      dir,
    );
    return { cert: path(`${name}.crt`), key: path(`${name}.key`) };
  }

  const ca = await makeCa("ca", "/CN=queuescale-e2e-ca");
  const frontProxyCa = await makeCa("front-proxy-ca", "/CN=queuescale-e2e-front-proxy-ca");
  const apiserver = await issue("apiserver", ca, "/CN=kube-apiserver", "server", [
    "IP:127.0.0.1",
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
  ]);
  const admin = await issue("admin", ca, "/O=system:masters/CN=queuescale-e2e-admin", "client");
  const frontProxyClient = await issue("front-proxy-client", frontProxyCa, "/CN=front-proxy-client", "client");
  const adapter = await issue("adapter", ca, "/CN=prometheus-adapter", "server", [
    `DNS:${names.adapterServiceDns}`,
    "DNS:localhost",
    "IP:127.0.0.1",
  ]);
  const keda = await issue("keda", ca, "/CN=keda", "server and client", [
    ...names.kedaServiceDns.map((dns) => `DNS:${dns}`),
    "DNS:localhost",
    "IP:127.0.0.1",
  ]);
  const kedaIdentity = await issue(
    "keda-identity",
    ca,
    "/O=system:serviceaccounts/O=system:serviceaccounts:keda/CN=system:serviceaccount:keda:keda-operator",
    "client",
  );
  await openssl(["genrsa", "-out", "service-account.key", "2048"], dir);
  await openssl(["rsa", "-in", "service-account.key", "-pubout", "-out", "service-account.pub"], dir);
  return {
    dir,
    ca,
    frontProxyCa,
    frontProxyClient,
    apiserver,
    admin,
    adapter,
    keda,
    kedaIdentity,
    serviceAccountKey: path("service-account.key"),
    serviceAccountPub: path("service-account.pub"),
  };
}
