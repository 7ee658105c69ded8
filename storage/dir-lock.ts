// An exclusive lock on a log directory, so that a second process never runs
// recovery (which may cut or rewrite the last segment) on a log another
// process is writing. The lock is a file `LOCK` holding the owner's pid,
// created with O_EXCL. A lock left by a process that no longer runs (it was
// killed) is taken over; a lock held by a live process stops the open.
//
// Called only by CommitLog (open and close).

import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { StorageError } from "./errors.ts";

export const LOCK_FILE = "LOCK";

async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  // A killed process stays a zombie until its parent reaps it, and signal 0
  // still reaches a zombie: on Linux, ask /proc for its state.
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (stat === undefined) return true;
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

export class DirLock {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** Takes the lock on `dir` (created if missing), or fails with ERR_STORAGE_LOCKED. */
  static async acquire(dir: string): Promise<DirLock> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, LOCK_FILE);
    // Two tries: the second after removing a stale lock.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const handle = await open(path, "wx");
        try {
          await handle.writeFile(`${process.pid}\n`);
        } finally {
          await handle.close();
        }
        return new DirLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
          throw new StorageError("ERR_STORAGE_IO", `cannot create ${path}`, { cause: err });
        }
      }
      const owner = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
      if (
        Number.isInteger(owner) &&
        owner > 0 &&
        owner !== process.pid &&
        (await isRunning(owner))
      ) {
        throw new StorageError(
          "ERR_STORAGE_LOCKED",
          `${dir} is in use by process ${owner} (${path}); stop that broker first, or remove the file if that process is not a broker`,
        );
      }
      if (owner === process.pid) {
        throw new StorageError("ERR_STORAGE_LOCKED", `${dir} is already open in this process`);
      }
      await unlink(path).catch(() => undefined); // stale: its owner is gone
    }
    throw new StorageError("ERR_STORAGE_LOCKED", `${dir}: could not take ${path}`);
  }

  async release(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
  }
}
