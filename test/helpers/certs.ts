// Certificates made at test time with Debian's `openssl` (EC P-256 keys, so
// it takes a few milliseconds): a CA, a server certificate for 127.0.0.1 and
// localhost, a client certificate signed by the CA (CN device-7), a client
// certificate signed by nobody the broker trusts, and the server's
// certificate and key as a PKCS#12 bundle. Made once per test process, in a
// temporary folder removed at exit.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCerts {
  dir: string;
  /** Paths. */
  caPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  pkcs12Path: string;
  pkcs12Pass: string;
  /** Contents, for clients. */
  ca: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** Signed by a CA the broker does not trust. */
  strangerCert: Buffer;
  strangerKey: Buffer;
}

export const CLIENT_CN = "device-7";
const PKCS12_PASS = "p12-secret";

let made: TestCerts | undefined;

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** A key and a certificate signed by `ca` (or self-signed when `ca` is undefined). */
function issue(dir: string, name: string, subject: string, ca?: string, extensions?: string): void {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  if (ca === undefined) {
    openssl(
      dir,
      ["req", "-x509", ...ec, "-keyout", `${name}.key.pem`, "-out", `${name}.cert.pem`].concat([
        "-subj",
        subject,
        "-days",
        "2",
      ]),
    );
    return;
  }
  openssl(dir, [
    "req",
    ...ec,
    "-keyout",
    `${name}.key.pem`,
    "-out",
    `${name}.csr`,
    "-subj",
    subject,
  ]);
  const ext = extensions === undefined ? [] : ["-extfile", `${name}.ext`];
  if (extensions !== undefined) writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.cert.pem`,
    "-CAkey",
    `${ca}.key.pem`,
    "-CAcreateserial",
    "-out",
    `${name}.cert.pem`,
    "-days",
    "2",
    ...ext,
  ]);
}

export function testCerts(): TestCerts {
  if (made !== undefined) return made;
  const dir = mkdtempSync(join(tmpdir(), "rumqttd-certs-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  issue(dir, "ca", "/CN=rumqttd test CA");
  issue(dir, "server", "/CN=localhost", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  issue(dir, "client", `/CN=${CLIENT_CN}/O=tests`, "ca");
  issue(dir, "stranger-ca", "/CN=stranger CA");
  issue(dir, "stranger", `/CN=${CLIENT_CN}`, "stranger-ca");
  openssl(dir, [
    "pkcs12",
    "-export",
    "-out",
    "server.p12",
    "-inkey",
    "server.key.pem",
    "-in",
    "server.cert.pem",
    "-passout",
    `pass:${PKCS12_PASS}`,
  ]);
  const read = (file: string) => readFileSync(join(dir, file));
  made = {
    dir,
    caPath: join(dir, "ca.cert.pem"),
    serverCertPath: join(dir, "server.cert.pem"),
    serverKeyPath: join(dir, "server.key.pem"),
    pkcs12Path: join(dir, "server.p12"),
    pkcs12Pass: PKCS12_PASS,
    ca: read("ca.cert.pem"),
    clientCert: read("client.cert.pem"),
    clientKey: read("client.key.pem"),
    strangerCert: read("stranger.cert.pem"),
    strangerKey: read("stranger.key.pem"),
  };
  return made;
}
