// Public types of the storage engine. The engine stores opaque message bodies
// with the few header fields a router needs without decoding them; it knows
// nothing about MQTT sessions, packets or sockets.

export type SyncMode = "fsync" | "os";

/** What a caller hands to `CommitLog.append`. */
export interface RecordInput {
  /** The topic the message was published to (UTF-8, at most 65,535 bytes). */
  topic: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** Wall-clock time of the publish, milliseconds since the epoch. */
  timestampMs: number;
  /** When the message expires (MQTT 5 message expiry), ms since the epoch; null = never. */
  expiresAtMs: number | null;
  /** The opaque body (for the broker: the encoded MQTT 5 properties and payload). */
  body: Uint8Array;
}

/** A record read back from the log. */
export interface LogRecord extends RecordInput {
  /** The record's offset: dense, only grows, never reused for a committed record. */
  offset: number;
}

export interface CommitLogOptions {
  /** Folder holding the segment files (created if missing). */
  dir: string;
  /** A segment is closed when the next record would take it past this many bytes. */
  maxSegmentSize: number;
  /** Segments kept: the log's size budget is maxSegmentSize x maxSegmentCount. */
  maxSegmentCount: number;
  /** Closed segments kept in memory besides the active one. */
  cacheSegments: number;
  /** "fsync": fdatasync before a commit resolves; "os": written to the OS. */
  sync: SyncMode;
  /** Called when segments are deleted to keep the log within its budget. */
  onSegmentsDeleted?: (event: SegmentsDeletedEvent) => void;
  /** Called when a read finds a damaged record in a closed segment (it is skipped, never returned). */
  onCorruption?: (event: CorruptionEvent) => void;
}

export interface SegmentsDeletedEvent {
  /** The log's new first offset. */
  startOffset: number;
  segments: number;
  reason: "budget" | "truncate";
}

export interface CorruptionEvent {
  segment: string;
  position: number;
  /** Offsets that could not be read (first inclusive, last inclusive). */
  firstOffset: number;
  lastOffset: number;
}

/** What `CommitLog.open` found and repaired, for the caller to log. */
export interface RecoveryReport {
  segments: number;
  records: number;
  startOffset: number;
  nextOffset: number;
  /** Bytes cut from the tail of the last segment (a torn or damaged record and what followed). */
  truncatedBytes: number;
  /** Complete-looking records inside the cut tail (0 for a torn write). */
  droppedRecords: number;
  /** Segment files that were empty or had a torn header and were rewritten. */
  repairedSegments: string[];
  /** Closed segments whose header is damaged: their records cannot be read. */
  damagedSegments: string[];
  durationMs: number;
}

export interface CommitLogStats {
  /** Group-commit batches written (one write per segment touched, per batch). */
  batches: number;
  /** fdatasync calls on segment files. */
  syncs: number;
  bytesWritten: number;
}
