// The storage engine's front door: the commit log, the LevelDB index and
// their types. Other modules import only from here.

export { CommitLog } from "./commit-log.ts";
export { StorageError, type StorageErrorCode } from "./errors.ts";
export {
  IndexBatch,
  IndexDb,
  type IndexDbOptions,
  type IndexValue,
  type JsonValue,
  Keyspace,
} from "./index-db.ts";
export { decodeKey, encodeKey, type KeyPart } from "./keys.ts";
export type * from "./types.ts";
