// The validated configuration: what `loadConfig` returns after reading a
// new-syntax TOML file and applying defaults. Every field here is already
// checked (types, ranges, enums) and every path already resolved against the
// config file's folder. Only `src/broker.ts` maps this onto the options types
// of the modules it builds.
//
// TOML keys keep rumqttd's spelling (see ../shared/CONFIG.md); the fields here
// use camelCase with units in the names, mapped once by the loader.

export type ListenerKind = "v4" | "v5" | "ws";

export interface TlsConfig {
  /** PEM certificate chain (absolute path); absent when PKCS#12 is used. */
  certPath?: string;
  /** PEM private key (absolute path); absent when PKCS#12 is used. */
  keyPath?: string;
  /** CA bundle (absolute path): present means client certificates are required and verified. */
  caPath?: string;
  /** PKCS#12 bundle (absolute path) instead of certPath/keyPath. */
  pkcs12Path?: string;
  pkcs12Pass?: string;
}

export interface ConnectionsConfig {
  connectionTimeoutMs: number;
  maxClientIdLen: number;
  throttleDelayMs: number;
  maxPayloadSize: number;
  maxInflightCount: number;
  maxInflightSize: number;
  dynamicFilters: boolean;
  /** username -> password; absent means anonymous clients are allowed. */
  auth?: Record<string, string>;
  /** MQTT 5: largest keep-alive (seconds) the server accepts. */
  maxKeepAliveSec: number;
  /** MQTT 5: topic aliases per connection, both directions (0 = none). */
  topicAliasMax: number;
  /** MQTT 5: QoS 1/2 publishes a client may have unacknowledged towards the broker. */
  receiveMaximum: number;
}

export interface ListenerConfig {
  kind: ListenerKind;
  /** The table key after `v4.` / `v5.` / `ws.`, e.g. "1". */
  key: string;
  /** `name`, defaulting to `${kind}-${key}`. */
  name: string;
  host: string;
  port: number;
  nextConnectionDelayMs: number;
  tls?: TlsConfig;
  connections: ConnectionsConfig;
}

export type SharedSubscriptionsStrategy = "roundrobin" | "random" | "sticky";

export interface RouterConfig {
  id: number;
  maxConnections: number;
  maxOutgoingPacketCount: number;
  maxSegmentSize: number;
  maxSegmentCount: number;
  sharedSubscriptionsStrategy: SharedSubscriptionsStrategy;
  initializedFilters: string[];
}

export type SyncMode = "fsync" | "os";

export interface StorageConfig {
  /** Absolute path of the data directory. */
  dir: string;
  sync: SyncMode;
  cacheSegments: number;
}

export interface AuthorizationRule {
  allow: boolean;
  action: "publish" | "subscribe" | "all";
  filter: string;
  users?: string[];
}

export interface AuthorizationConfig {
  default: "allow" | "deny";
  revealReason: boolean;
  rules: AuthorizationRule[];
}

export interface ConsoleConfig {
  host: string;
  port: number;
}

export interface PrometheusConfig {
  host: string;
  port: number;
  intervalSec: number;
}

export interface ConfigWarning {
  /** `file:line: key.path: message`, ready to print or log. */
  text: string;
  keyPath: string;
}

export interface Config {
  /** Absolute path of the file this was loaded from. */
  file: string;
  id: number;
  router: RouterConfig;
  storage: StorageConfig;
  listeners: ListenerConfig[];
  console?: ConsoleConfig;
  prometheus?: PrometheusConfig;
  authorization?: AuthorizationConfig;
  /** Keys accepted but without effect yet, one warning each. */
  warnings: ConfigWarning[];
}
