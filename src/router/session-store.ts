// Write-ahead of session state to the storage index, so that what a client
// was told survives a kill (DESIGN.md's durability contract):
// - a subscription is stored before its SUBACK, an unsubscription before its UNSUBACK;
// - an inbound QoS 2 packet id is stored before PUBREC and deleted before PUBCOMP;
// - an outbound packet-id assignment (the message's log offset) and the
//   session's cursor are stored before the PUBLISH goes out;
// - a shared group's position (cursor and pending offsets) is stored before
//   the PUBLISHes it hands out go out, in the same batch as the members'
//   packet-id assignments (shared-group.ts);
// - acks, session records (with the will) and expiry updates are queued without waiting.
// Changes made in one turn of the event loop are written as one atomic
// LevelDB batch, and while a batch is being written, the changes of every
// turn until it ends go in the next one (fewer, larger batches, one sync
// each with "fsync"); batches are written one after the other, in order, so
// `flush()` resolving means everything queued before it is durable.
//
// Who calls it: the router and delivery.ts. A failed write is fatal (the
// router stops acknowledging), like a failed commit of the log.

import type { IndexBatch, IndexDb, JsonValue } from "../../storage/index.ts";
import { subscriptionIdsOf } from "./outgoing.ts";
import { messageToJson, SESSION_CURSOR, subscriptionOptionsToJson } from "./persistence.ts";
import type { InflightEntry, SubscriptionOptions } from "./session.ts";
import { GROUP_OWNER, type SharedGroup } from "./shared-group.ts";
import { type Will, willToJson } from "./will-timer.ts";

/** A change to apply to the next batch; "forget" needs a read of what is stored first. */
type Op = { clientId: string; apply: (batch: IndexBatch) => void } | { forget: string };

/** The meta key of the log offset below which every inbound QoS 2 id is in the index. */
export const INBOUND_CHECKPOINT = "inbound_checkpoint";

export class SessionStore {
  readonly #index: IndexDb;
  readonly #onFatal: (error: unknown) => void;
  #ops: Op[] = [];
  #waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  #scheduled = false;
  /** A batch is being written; the next one waits for it. */
  #inFlight = false;
  #writing: Promise<void> = Promise.resolve();
  #failed: unknown;

  readonly #checkpoint: () => number;

  /**
   * `checkpoint` gives the log's next offset; each batch stores it (meta
   * INBOUND_CHECKPOINT) as taken when the batch is built. Inbound QoS 2 ids
   * are queued in the turn of their message's append, so once a batch is
   * written, every id for a message below its checkpoint is in the index.
   */
  constructor(index: IndexDb, onFatal: (error: unknown) => void, checkpoint: () => number) {
    this.#index = index;
    this.#onFatal = onFatal;
    this.#checkpoint = checkpoint;
  }

  /** The session record: expiry, when it went offline (null: online) and its will, if any. */
  putSession(
    clientId: string,
    expiryIntervalSec: number,
    disconnectedAtMs: number | null,
    will: Will | undefined,
  ): void {
    const index = this.#index;
    const value = {
      expiryIntervalSec,
      disconnectedAtMs,
      will: will === undefined ? null : willToJson(will, messageToJson),
    };
    this.#push({ clientId, apply: (b) => b.put(index.sessions, [clientId], value) });
  }

  putSubscription(
    clientId: string,
    filter: string,
    options: SubscriptionOptions,
    sinceOffset: number,
  ): void {
    const index = this.#index;
    const value = { ...subscriptionOptionsToJson(options), sinceOffset };
    this.#push({ clientId, apply: (b) => b.put(index.subscriptions, [clientId, filter], value) });
  }

  /**
   * A shared group's position, as it is when the batch is built (so that
   * several changes in one turn make one write). An ended group writes nothing.
   */
  putGroup(group: SharedGroup): void {
    const index = this.#index;
    this.#push({
      clientId: GROUP_OWNER,
      apply: (b) => {
        if (!group.ended) b.put(index.cursors, [GROUP_OWNER, group.key], { ...group.record() });
      },
    });
  }

  delGroup(key: string): void {
    const index = this.#index;
    this.#push({ clientId: GROUP_OWNER, apply: (b) => b.del(index.cursors, [GROUP_OWNER, key]) });
  }

  delSubscription(clientId: string, filter: string): void {
    const index = this.#index;
    this.#push({ clientId, apply: (b) => b.del(index.subscriptions, [clientId, filter]) });
  }

  putCursor(clientId: string, cursor: number): void {
    const index = this.#index;
    this.#push({
      clientId,
      apply: (b) => b.put(index.cursors, [clientId, SESSION_CURSOR], cursor),
    });
  }

  /**
   * An outbound packet-id assignment: for a message from the log, its offset
   * and QoS only (the log holds the message); for a retained message, its body.
   */
  putOutbound(clientId: string, packetId: number, entry: InflightEntry): void {
    const index = this.#index;
    const { seq, phase, offset, publish, expiresAtMs } = entry;
    const value: Record<string, JsonValue> =
      offset === null
        ? { seq, phase, expiresAtMs, ...messageToJson(publish) }
        : {
            seq,
            phase,
            offset,
            qos: publish.qos,
            retain: publish.retain,
            subscriptionIds: subscriptionIdsOf(publish),
          };
    this.#push({ clientId, apply: (b) => b.put(index.outbound, [clientId, packetId], value) });
  }

  delOutbound(clientId: string, packetId: number): void {
    const index = this.#index;
    this.#push({ clientId, apply: (b) => b.del(index.outbound, [clientId, packetId]) });
  }

  /** An inbound QoS 2 id and the log offset its message got (checked against the log at restore). */
  putInbound(clientId: string, packetId: number, offset: number): void {
    const index = this.#index;
    this.#push({
      clientId,
      apply: (b) => b.put(index.inbound, [clientId, packetId], { offset }),
    });
  }

  delInbound(clientId: string, packetId: number): void {
    const index = this.#index;
    this.#push({ clientId, apply: (b) => b.del(index.inbound, [clientId, packetId]) });
  }

  /** Deletes everything stored for a client (its session ended). */
  forget(clientId: string): void {
    // Changes queued for this client in the same batch would survive the
    // deletion (it reads what is stored before the batch): drop them.
    this.#ops = this.#ops.filter((op) => "forget" in op || op.clientId !== clientId);
    this.#push({ forget: clientId });
  }

  /** Resolves when everything queued so far is durable; rejects if the index failed. */
  flush(): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    if (this.#ops.length === 0 && this.#waiters.length === 0) return this.#writing;
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#schedule();
    });
  }

  #push(op: Op): void {
    this.#ops.push(op);
    this.#schedule();
  }

  /**
   * Starts a batch at the end of this turn, unless one is being written:
   * then what is queued meanwhile goes in one batch after it (group commit
   * for the index, as the log has), rather than a batch per turn in a queue.
   */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight) return;
    this.#scheduled = true;
    setImmediate(this.#startWrite);
  }

  readonly #startWrite = (): void => {
    this.#scheduled = false;
    if (this.#inFlight || (this.#ops.length === 0 && this.#waiters.length === 0)) return;
    const ops = this.#ops;
    const waiters = this.#waiters;
    const checkpoint = this.#checkpoint();
    this.#ops = [];
    this.#waiters = [];
    this.#inFlight = true;
    this.#writing = this.#write(ops, checkpoint).then(
      () => {
        this.#inFlight = false;
        for (const w of waiters) w.resolve();
        // What the waiters queue in reply joins what came meanwhile, in the next batch.
        if (this.#ops.length > 0 || this.#waiters.length > 0) this.#schedule();
      },
      (error: unknown) => {
        this.#inFlight = false;
        if (this.#failed === undefined) {
          this.#failed = error;
          this.#onFatal(error);
        }
        for (const w of waiters) w.reject(error);
        for (const w of this.#waiters.splice(0)) w.reject(error);
      },
    );
  };

  /** One atomic batch, ops in order; a "forget" deletes the keys stored before this batch. */
  async #write(ops: Op[], checkpoint: number): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed;
    const index = this.#index;
    const batch = index.batch();
    batch.put(index.meta, [INBOUND_CHECKPOINT], checkpoint);
    for (const op of ops) {
      if ("apply" in op) {
        op.apply(batch);
        continue;
      }
      const clientId = op.forget;
      batch.del(index.sessions, [clientId]);
      for await (const [key] of index.subscriptions.entries([clientId])) {
        batch.del(index.subscriptions, key);
      }
      for await (const [key] of index.cursors.entries([clientId])) batch.del(index.cursors, key);
      for await (const [key] of index.outbound.entries([clientId])) batch.del(index.outbound, key);
      for await (const [key] of index.inbound.entries([clientId])) batch.del(index.inbound, key);
    }
    await batch.write();
  }
}
