// The options of one link, set by the server from its listener's config.
// Defined here so that link/ depends on nothing above it.

export interface ConnectionSlots {
  /** Takes a slot for an accepted CONNECT; false when `router.max_connections` is reached. */
  tryAcquire(): boolean;
  release(): void;
}

export interface LinkOptions {
  /** The listener's name, for logs. */
  listener: string;
  /** Which protocol this listener speaks: "v4" (3.1.1 and 3.1) or "v5". */
  kind: "v4" | "v5";
  /** Time allowed between accept and CONNECT. */
  connectionTimeoutMs: number;
  /** Largest PUBLISH payload accepted (bytes). */
  maxPayloadBytes: number;
  maxClientIdLen: number;
  /** Outgoing QoS 1/2 messages unacknowledged per client. */
  maxInflightCount: number;
  /**
   * Checks a CONNECT's user name and password (off the event loop for hashes);
   * absent means anonymous clients are allowed. Built by the server from `auth`.
   */
  authenticate: ((username: string, password: Buffer) => Promise<boolean>) | undefined;
  /** MQTT 5: the largest keep-alive accepted; 0 or more gets this as Server Keep Alive. */
  maxKeepAliveSec: number;
  /** MQTT 5: QoS 1/2 publishes a client may have unacknowledged towards the broker. */
  receiveMaximum: number;
  slots: ConnectionSlots;
}
