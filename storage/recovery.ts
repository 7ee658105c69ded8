// Opening a log directory: list the segment files, check every header, scan
// the last (active) segment record by record and cut it at the first torn or
// damaged record. Closed segments are not read here (their records are
// CRC-checked when first read), so that opening a large log stays fast.
//
// Called only by CommitLog.open. Never deletes a closed segment and never
// returns a damaged record as data.
//
// Invariants:
// - After recovery the last segment's file ends exactly after its last good record.
// - A segment whose header names a format version we do not know stops the
//   open with ERR_STORAGE_FORMAT: data written by newer code is never cut.

import { mkdir, open, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { StorageError } from "./errors.ts";
import {
  checkRecord,
  checkSegmentHeader,
  encodeSegmentHeader,
  parseSegmentFileName,
  RECORD_FORMAT_VERSION,
  SEGMENT_HEADER_SIZE,
  scanTail,
  segmentFileName,
} from "./record-format.ts";
import { readPrefix, Segment, syncDirectory } from "./segment.ts";
import { SegmentRecords } from "./segment-records.ts";
import type { RecoveryReport, SyncMode } from "./types.ts";

export interface Recovered {
  segments: Segment[];
  report: RecoveryReport;
}

export async function recoverSegments(dir: string, sync: SyncMode): Promise<Recovered> {
  const started = performance.now();
  await mkdir(dir, { recursive: true });
  const bases = (await readdir(dir))
    .map(parseSegmentFileName)
    .filter((base): base is number => base !== undefined)
    .sort((a, b) => a - b);
  const report: RecoveryReport = {
    segments: 0,
    records: 0,
    startOffset: 0,
    nextOffset: 0,
    truncatedBytes: 0,
    droppedRecords: 0,
    repairedSegments: [],
    damagedSegments: [],
    durationMs: 0,
  };
  const segments: Segment[] = [];
  for (let i = 0; i < bases.length - 1; i += 1) {
    const base = bases[i] as number;
    const next = bases[i + 1] as number;
    segments.push(await openClosedSegment(dir, base, next, report));
  }
  const lastBase = bases.at(-1) ?? 0;
  segments.push(await recoverActiveSegment(dir, lastBase, bases.length > 0, sync, report));
  const first = segments[0] as Segment;
  const last = segments.at(-1) as Segment;
  report.segments = segments.length;
  report.records = last.endOffset - first.baseOffset;
  report.startOffset = first.baseOffset;
  report.nextOffset = last.endOffset;
  report.durationMs = Math.round(performance.now() - started);
  return { segments, report };
}

async function openClosedSegment(
  dir: string,
  base: number,
  nextBase: number,
  report: RecoveryReport,
): Promise<Segment> {
  const path = join(dir, segmentFileName(base));
  const header = checkSegmentHeader(await readPrefix(path, SEGMENT_HEADER_SIZE));
  if (header.kind === "unknown-version") throw unknownVersion(path, header.version);
  const { size } = await stat(path);
  const segment = new Segment(base, path, { size, count: nextBase - base, records: null }, true);
  if (header.kind !== "ok" || header.baseOffset !== base) {
    segment.headerDamaged = true;
    report.damagedSegments.push(path);
  }
  return segment;
}

async function recoverActiveSegment(
  dir: string,
  base: number,
  exists: boolean,
  sync: SyncMode,
  report: RecoveryReport,
): Promise<Segment> {
  const path = join(dir, segmentFileName(base));
  const buf = exists ? await readFile(path) : Buffer.alloc(0);
  const header = checkSegmentHeader(buf);
  if (header.kind === "unknown-version") throw unknownVersion(path, header.version);
  if (header.kind !== "ok" || header.baseOffset !== base) {
    // A segment whose creation was cut short (or whose header is damaged): it
    // is the last one, so nothing after it depends on it; start it afresh.
    await rewriteEmptySegment(dir, path, base, sync);
    if (exists) {
      report.repairedSegments.push(path);
      report.truncatedBytes += buf.length;
    }
    return new Segment(
      base,
      path,
      { size: SEGMENT_HEADER_SIZE, count: 0, records: new SegmentRecords(base) },
      true,
    );
  }
  const scan = scanTail(buf, SEGMENT_HEADER_SIZE, base);
  if (scan.stop !== "end") {
    report.truncatedBytes += buf.length - scan.goodEnd;
    report.droppedRecords += countRecordsAfter(buf, scan.goodEnd, base + scan.positions.length);
    await truncateFile(path, scan.goodEnd, sync);
  }
  const records = new SegmentRecords(base, scan.positions.length);
  for (const position of scan.positions) records.push(position);
  records.addChunk(0, buf.subarray(0, scan.goodEnd));
  return new Segment(
    base,
    path,
    { size: scan.goodEnd, count: scan.positions.length, records },
    true,
  );
}

/** Counts complete-looking records in a cut tail, for the report only. */
function countRecordsAfter(buf: Buffer, from: number, nextOffset: number): number {
  let count = 0;
  let expected = nextOffset;
  for (let at = from + 1; at + 12 <= buf.length; at += 1) {
    if (buf[at + 8] !== RECORD_FORMAT_VERSION) continue;
    const check = checkRecord(buf, at, { min: expected, max: Number.MAX_SAFE_INTEGER });
    if (check.kind !== "ok") continue;
    count += 1;
    expected = check.offset + 1;
    at += check.size - 1;
  }
  return count;
}

async function rewriteEmptySegment(
  dir: string,
  path: string,
  base: number,
  sync: SyncMode,
): Promise<void> {
  const handle = await open(path, "w");
  try {
    await handle.write(encodeSegmentHeader(base));
    if (sync === "fsync") await handle.datasync();
  } finally {
    await handle.close();
  }
  if (sync === "fsync") await syncDirectory(dir);
}

async function truncateFile(path: string, length: number, sync: SyncMode): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.truncate(length);
    if (sync === "fsync") await handle.datasync();
  } finally {
    await handle.close();
  }
}

function unknownVersion(path: string, version: number): StorageError {
  return new StorageError(
    "ERR_STORAGE_FORMAT",
    `${path}: segment format version ${version} is not known to this broker (it knows version 1); refusing to open the log rather than cut data written by newer code`,
  );
}
