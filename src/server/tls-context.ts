// A listener's TLS material: reads the files its `tls` table names (PEM
// certificate chain and key, or a PKCS#12 bundle with its password; a CA
// bundle turns on client certificates, required and verified) and checks
// that Node's TLS accepts them, so that a missing, unreadable or unusable
// file stops the start with the key that names it instead of failing the
// first handshake.
//
// Who calls it: broker.ts, once per listener with a `tls` table, at start and
// for `rumqttd --check`. Reads files synchronously (start-up only).

import { readFileSync } from "node:fs";
import { createSecureContext, type SecureContextOptions } from "node:tls";

/** The paths of a `tls` table (absolute), as src/config resolved them. */
export interface TlsFiles {
  certPath?: string;
  keyPath?: string;
  caPath?: string;
  pkcs12Path?: string;
  pkcs12Pass?: string;
}

export interface ServerTls {
  /** Options for tls.createServer / https.createServer. */
  options: SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean };
  /** True when client certificates are required and verified (`capath`). */
  clientCertificates: boolean;
}

export type TlsKey = "certpath" | "keypath" | "capath" | "pkcs12path" | "pkcs12pass";

export interface TlsProblem {
  key: TlsKey;
  message: string;
}

/** The loaded TLS options, or every problem found (each naming its key and file). */
export function loadTls(files: TlsFiles): ServerTls | TlsProblem[] {
  const problems: TlsProblem[] = [];
  const read = (key: TlsKey, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "error";
      problems.push({ key, message: `cannot read ${path} (${code})` });
      return undefined;
    }
  };
  const cert = read("certpath", files.certPath);
  const key = read("keypath", files.keyPath);
  const ca = read("capath", files.caPath);
  const pfx = read("pkcs12path", files.pkcs12Path);
  if (problems.length > 0) return problems;

  const options: SecureContextOptions = {};
  if (pfx !== undefined) {
    options.pfx = pfx;
    if (files.pkcs12Pass !== undefined) options.passphrase = files.pkcs12Pass;
    const pfxKey = files.pkcs12Pass === undefined ? "pkcs12path" : "pkcs12pass";
    usable(problems, { pfx, passphrase: files.pkcs12Pass }, pfxKey, files.pkcs12Path);
  } else {
    if (cert !== undefined) options.cert = cert;
    if (key !== undefined) options.key = key;
    if (usable(problems, { cert }, "certpath", files.certPath)) {
      if (usable(problems, { key }, "keypath", files.keyPath)) {
        usable(problems, { cert, key }, "keypath", files.keyPath, "does not match certpath");
      }
    }
  }
  if (ca !== undefined) {
    options.ca = ca;
    usable(problems, { ca }, "capath", files.caPath);
  }
  if (problems.length > 0) return problems;
  const clientCertificates = ca !== undefined;
  return {
    options: {
      ...options,
      requestCert: clientCertificates,
      rejectUnauthorized: clientCertificates,
    },
    clientCertificates,
  };
}

/** True when Node accepts `options`; otherwise records a problem on `key`. */
function usable(
  problems: TlsProblem[],
  options: SecureContextOptions,
  key: TlsKey,
  path: string | undefined,
  what?: string,
): boolean {
  try {
    createSecureContext(options);
    return true;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    problems.push({ key, message: `${path}: ${what ?? "not usable"} (${reason})` });
    return false;
  }
}
