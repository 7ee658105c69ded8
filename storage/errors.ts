// Errors raised by the storage engine. Each has a stable `code`; callers and
// tests branch on the code, never on the message. The engine imports nothing
// of the broker's, so it has its own error class.

export type StorageErrorCode =
  /** A write, fsync, rename or delete failed: fatal, nothing may be acknowledged after it. */
  | "ERR_STORAGE_IO"
  /** A segment file was written by a format version this code does not know. */
  | "ERR_STORAGE_FORMAT"
  /** Another live process (or this one) has the log directory open. */
  | "ERR_STORAGE_LOCKED"
  /** The engine was used after close() or after a fatal failure. */
  | "ERR_STORAGE_CLOSED"
  /** The LevelDB index failed to open, read or write. */
  | "ERR_STORAGE_INDEX"
  /** A stored index value could not be decoded. */
  | "ERR_STORAGE_CORRUPT";

export class StorageError extends Error {
  readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StorageError";
    this.code = code;
  }
}
