import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** PEM files of a throw-away CA, a server certificate for localhost/127.0.0.1 and a client certificate. */
export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  read(path: string): Buffer;
  dispose(): void;
}

const KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Issues the certificates with the openssl command line into a temporary directory. */
export async function createTestPki(): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), "queuescale-pki-"));
  const file = (name: string) => join(dir, name);
  try {
    await run(
      "openssl",
      ["req", "-x509", ...KEY, "-keyout", file("ca.key"), "-out", file("ca.crt")].concat([
        "-days",
        "2",
        "-subj",
        "/CN=queuescale test CA",
      ]),
    );
    const issue = async (name: string, extensions: string) => {
      writeFileSync(file(`${name}.ext`), extensions);
      await run(
        "openssl",
        ["req", ...KEY, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`)].concat([
          "-subj",
          `/CN=queuescale test ${name}`,
        ]),
      );
      await run(
        "openssl",
        ["x509", "-req", "-in", file(`${name}.csr`), "-CA", file("ca.crt")].concat(
          ["-CAkey", file("ca.key"), "-CAcreateserial", "-days", "2", "-out", file(`${name}.crt`)],
          ["-extfile", file(`${name}.ext`)],
        ),
      );
    };
    await issue("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    await issue("client", "extendedKeyUsage=clientAuth\n");
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    caCert: file("ca.crt"),
    serverCert: file("server.crt"),
    serverKey: file("server.key"),
    clientCert: file("client.crt"),
    clientKey: file("client.key"),
    read: (path) => readFileSync(path),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
