// The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), written for the
// tests from the RFC's formulas and independent of src/server/scram.ts, so
// that the broker is checked against the RFC rather than against itself.

import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

const GS2_HEADER = "n,,";

const hmac = (key: Buffer, text: string | Buffer) =>
  createHmac("sha256", key).update(text).digest();

export class ScramClient {
  readonly user: string;
  readonly #password: string;
  readonly #nonce: string;
  #authMessage = "";
  #saltedPassword = Buffer.alloc(0);

  constructor(user: string, password: string, nonce = randomBytes(18).toString("base64")) {
    this.user = user;
    this.#password = password;
    this.#nonce = nonce;
  }

  get firstBare(): string {
    const name = this.user.replaceAll("=", "=3D").replaceAll(",", "=2C");
    return `n=${name},r=${this.#nonce}`;
  }

  /** client-first-message. */
  first(): Buffer {
    return Buffer.from(GS2_HEADER + this.firstBare, "utf8");
  }

  /** client-final-message for the server-first-message, with the proof of the password. */
  final(serverFirst: Buffer | undefined, password = this.#password): Buffer {
    const text = serverFirst?.toString("utf8") ?? "";
    const attrs = new Map(text.split(",").map((a) => [a.slice(0, 1), a.slice(2)] as const));
    const nonce = attrs.get("r") ?? "";
    const salt = Buffer.from(attrs.get("s") ?? "", "base64");
    const iterations = Number(attrs.get("i"));
    this.#saltedPassword = pbkdf2Sync(Buffer.from(password), salt, iterations, 32, "sha256");
    const withoutProof = `c=${Buffer.from(GS2_HEADER).toString("base64")},r=${nonce}`;
    this.#authMessage = `${this.firstBare},${text},${withoutProof}`;
    const clientKey = hmac(this.#saltedPassword, "Client Key");
    const storedKey = createHash("sha256").update(clientKey).digest();
    const signature = hmac(storedKey, this.#authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] as number)));
    return Buffer.from(`${withoutProof},p=${proof.toString("base64")}`, "utf8");
  }

  /** Whether the server-final-message proves that the server knows the credential. */
  verifyServer(serverFinal: Buffer | undefined): boolean {
    const serverKey = hmac(this.#saltedPassword, "Server Key");
    const expected = `v=${hmac(serverKey, this.#authMessage).toString("base64")}`;
    return serverFinal?.toString("utf8") === expected;
  }
}
