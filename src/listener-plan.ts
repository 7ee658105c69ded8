// What the broker needs, besides the config itself, before it can start its
// listeners: each listener's authenticator (its `auth` table, hashes parsed),
// its TLS material (the files of its `tls` table, read and checked) and the
// `[authorization]` rules. Every problem is collected and reported at once as
// `file:line: key.path: message` (exit 2 in the CLI), so that a bad hash, a
// missing certificate or a bad rule filter stops the start, never the first
// client. Used by startBroker and by `rumqttd --check`.
//
// Part of the composition root (like broker.ts, it may import every module).

import { readFileSync } from "node:fs";
import { Authorizer } from "./authz/index.ts";
import {
  type Config,
  formatKeyPath,
  type KeyPath,
  LineLocator,
  type ListenerConfig,
} from "./config/index.ts";
import { BrokerError, ConfigError } from "./errors.ts";
import { type Authenticate, createAuthenticator, loadTls, type ServerTls } from "./server/index.ts";

export interface ListenerPlan {
  listeners: ListenerConfig[];
  authenticators: Map<ListenerConfig, Authenticate>;
  tls: Map<ListenerConfig, ServerTls>;
  /** The `[authorization]` rules; undefined when the table is absent (everything allowed). */
  access: Authorizer | undefined;
}

/** Checks what the config names beyond its own text; throws ConfigError with every problem. */
export function planListeners(config: Config): ListenerPlan {
  const problems = new Problems(config.file);
  const plan: ListenerPlan = {
    listeners: config.listeners,
    authenticators: new Map(),
    tls: new Map(),
    access: undefined,
  };
  for (const listener of config.listeners) {
    const path = [listener.kind, listener.key];
    const table = listener.connections.auth;
    if (table !== undefined) {
      const result = createAuthenticator(table);
      if (Array.isArray(result)) {
        for (const { user, message } of result) {
          problems.add([...path, "connections", "auth", user], message);
        }
      } else plan.authenticators.set(listener, result);
    }
    if (listener.tls !== undefined) {
      const result = loadTls(listener.tls);
      if (Array.isArray(result)) {
        for (const { key, message } of result) problems.add([...path, "tls", key], message);
      } else plan.tls.set(listener, result);
    }
  }
  const authorization = config.authorization;
  if (authorization !== undefined) {
    const result = Authorizer.create({
      defaultAllow: authorization.default === "allow",
      revealReason: authorization.revealReason,
      rules: authorization.rules,
    });
    if (Array.isArray(result)) {
      for (const { index, message } of result) {
        problems.add(["authorization", "rules", index, "filter"], message);
      }
    } else plan.access = result;
  }
  problems.throwIfAny();
  return plan;
}

/** Problems as `file:line: key.path: message`; the file is read for lines only when needed. */
class Problems {
  readonly #file: string;
  readonly #lines: string[] = [];
  #locator: LineLocator | undefined;

  constructor(file: string) {
    this.#file = file;
  }

  add(path: KeyPath, message: string): void {
    this.#locator ??= new LineLocator(readConfigText(this.#file));
    this.#lines.push(`${where(this.#file, path, this.#locator)}: ${message}`);
  }

  throwIfAny(): void {
    if (this.#lines.length > 0) throw new ConfigError("ERR_CONFIG_INVALID", this.#lines);
  }
}

/** `file:line: key.path` for a key of the config file (the line when it can be found). */
function where(file: string, path: KeyPath, locator: LineLocator): string {
  const line = locator.lineOf(path);
  return `${line === undefined ? file : `${file}:${line}`}: ${formatKeyPath(path)}`;
}

/**
 * A listener that cannot bind its port, as `file:line: vN.x.listen: address
 * host:port in use (EADDRINUSE)`: a runtime failure (exit 1), named by its key.
 */
export function listenError(file: string, listener: ListenerConfig, error: unknown): BrokerError {
  const code = (error as { code?: unknown }).code;
  const address = `${listener.host}:${listener.port}`;
  const what =
    code === "EADDRINUSE"
      ? `address ${address} in use`
      : code === "EACCES"
        ? `no permission to listen on ${address}`
        : code === "EADDRNOTAVAIL"
          ? `address ${address} is not one of this machine's`
          : `cannot listen on ${address}`;
  const path = [listener.kind, listener.key, "listen"];
  const at = where(file, path, new LineLocator(readConfigText(file)));
  return new BrokerError("ERR_LISTEN", `${at}: ${what} (${String(code ?? error)})`, {
    cause: error,
  });
}

/** The config file's text, for line numbers in messages; empty when it cannot be read. */
function readConfigText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
