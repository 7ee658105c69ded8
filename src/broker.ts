// The composition root: builds storage, router, links and listeners from a
// validated Config and returns { addresses, close() }. The CLI and the
// in-process tests both start the broker through startBroker.
//
// Decisions recorded here (DESIGN.md leaves them open):
// - Everything the config names beyond its text (password hashes, TLS files,
//   authorization rules) is checked before storage is opened
//   (listener-plan.ts), so a bad file stops the start with its key.
// - Data layout: `<storage.dir>/log` (segments) and `<storage.dir>/index` (LevelDB).
// - close(): stop accepting, stop delivering, let every link drain its
//   acknowledgements in both directions for up to SHUTDOWN_DRAIN_MS, close it
//   (v5: DISCONNECT 0x8B), finish the commit in progress, close the log, close
//   the index. A graceful stop then neither loses nor repeats a message.

import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { CommitLog, IndexDb } from "../storage/index.ts";
import type { Config, ListenerConfig } from "./config/index.ts";
import type { AuthMethod } from "./link/index.ts";
import { type ListenerPlan, listenError, planListeners } from "./listener-plan.ts";
import type { Logger } from "./log.ts";
import { Router } from "./router/index.ts";
import {
  ConnectionCounter,
  createScramMethod,
  Listener,
  type ListenerAddress,
  type ListenerOptions,
} from "./server/index.ts";

/**
 * How long a graceful stop waits for clients to acknowledge what is in flight
 * to them. Past it, what is unacknowledged is sent again after the restart.
 */
export const SHUTDOWN_DRAIN_MS = 2000;

export { type ListenerPlan, planListeners } from "./listener-plan.ts";

export interface Broker {
  addresses: ListenerAddress[];
  close(): Promise<void>;
}

export interface BrokerHooks {
  /** The log failed: nothing may be acknowledged any more; the process should exit 1. */
  onFatal?: (error: unknown) => void;
}

/** The listener's options from its config: the one place config keys become link options. */
function listenerOptions(
  lc: ListenerConfig,
  slots: ConnectionCounter,
  plan: ListenerPlan,
): ListenerOptions {
  const c = lc.connections;
  const tls = plan.tls.get(lc);
  const authenticate = plan.authenticators.get(lc);
  return {
    name: lc.name,
    kind: lc.kind,
    host: lc.host,
    port: lc.port,
    nextConnectionDelayMs: lc.nextConnectionDelayMs,
    ...(tls === undefined ? {} : { tls }),
    link: {
      listener: lc.name,
      // A WebSocket listener serves MQTT 3.1.1 and 5 alike: the CONNECT tells.
      kind: lc.kind === "ws" ? "any" : lc.kind,
      connectionTimeoutMs: c.connectionTimeoutMs,
      maxPayloadBytes: c.maxPayloadSize,
      maxClientIdLen: c.maxClientIdLen,
      maxInflightCount: c.maxInflightCount,
      authenticate,
      maxKeepAliveSec: c.maxKeepAliveSec,
      receiveMaximum: c.receiveMaximum,
      topicAliasMax: c.topicAliasMax,
      authMethods: authMethodsFor(lc),
      slots,
      ...(plan.access === undefined ? {} : { access: plan.access }),
    },
  };
}

/**
 * The MQTT 5 enhanced authentication methods of a listener: SCRAM-SHA-256
 * against its `auth` table, when it has one (none otherwise: a CONNECT that
 * names a method gets 0x8C).
 */
function authMethodsFor(lc: ListenerConfig): Map<string, AuthMethod> {
  const table = lc.connections.auth;
  const methods = new Map<string, AuthMethod>();
  if (lc.kind === "v4" || table === undefined) return methods;
  const scram = createScramMethod(table);
  methods.set(scram.name, scram);
  return methods;
}

/** Opens the commit log and the index under `storage.dir` (`log/` and `index/`). */
async function openStorage(
  config: Config,
  logger: Logger,
  onTrimmed: (startOffset: number) => void,
): Promise<{ log: CommitLog; index: IndexDb }> {
  await mkdir(config.storage.dir, { recursive: true });
  const { log, report } = await CommitLog.open({
    dir: join(config.storage.dir, "log"),
    maxSegmentSize: config.router.maxSegmentSize,
    maxSegmentCount: config.router.maxSegmentCount,
    cacheSegments: config.storage.cacheSegments,
    sync: config.storage.sync,
    onSegmentsDeleted: (event) => {
      logger.info({ event: "segment.deleted", ...event }, "segments deleted");
      onTrimmed(event.startOffset);
    },
    onCorruption: (event) =>
      logger.warn(
        {
          event: "storage.corrupt",
          segment: event.segment,
          position: event.position,
          first_offset: event.firstOffset,
          last_offset: event.lastOffset,
        },
        "damaged records skipped",
      ),
  });
  logger.info(
    {
      event: "storage.recovered",
      segments: report.segments,
      records: report.records,
      start_offset: report.startOffset,
      next_offset: report.nextOffset,
      truncated_bytes: report.truncatedBytes,
      dropped_records: report.droppedRecords,
      repaired_segments: report.repairedSegments,
      damaged_segments: report.damagedSegments,
      duration_ms: report.durationMs,
    },
    "commit log opened",
  );
  try {
    const index = await IndexDb.open({
      dir: join(config.storage.dir, "index"),
      sync: config.storage.sync,
    });
    return { log, index };
  } catch (error) {
    await log.close();
    throw error;
  }
}

export async function startBroker(
  config: Config,
  logger: Logger,
  hooks: BrokerHooks = {},
): Promise<Broker> {
  const plan = planListeners(config);
  for (const warning of config.warnings) {
    logger.warn({ event: "config.warning", key: warning.keyPath }, warning.text);
  }
  let router: Router | undefined;
  const { log, index } = await openStorage(config, logger, (start) => router?.trimBefore(start));
  router = new Router({
    log,
    index,
    logger: logger.child({ component: "router" }),
    maxOutgoingPacketCount: config.router.maxOutgoingPacketCount,
    sharedStrategy: config.router.sharedSubscriptionsStrategy,
    onFatal: (error) => hooks.onFatal?.(error),
  });
  try {
    await router.restore();
  } catch (error) {
    await log.close();
    await index.close();
    throw error;
  }
  const slots = new ConnectionCounter(config.router.maxConnections);
  const listeners: Listener[] = [];
  const addresses: ListenerAddress[] = [];

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      logger.info({ event: "broker.stopping" }, "stopping");
      for (const listener of listeners) listener.stopAccepting();
      router?.stopDelivering();
      const drainDeadlineMs = Date.now() + SHUTDOWN_DRAIN_MS;
      await Promise.all(listeners.map((l) => l.closeLinks(drainDeadlineMs)));
      await router?.close();
      await log.close();
      await index.close();
      logger.info({ event: "broker.stopped" }, "stopped");
    })();
    return closing;
  };

  try {
    for (const lc of plan.listeners) {
      const listener = new Listener(listenerOptions(lc, slots, plan), router, logger);
      listeners.push(listener);
      addresses.push(
        await listener.listen().catch((error: unknown) => {
          throw listenError(config.file, lc, error);
        }),
      );
    }
  } catch (error) {
    await close();
    throw error;
  }
  logger.info(
    { event: "broker.ready", listeners: addresses.map((a) => ({ ...a })) },
    `ready: ${addresses.map((a) => `${a.name} ${a.host}:${a.port}`).join(", ")}`,
  );
  return { addresses, close };
}
