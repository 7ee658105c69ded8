// Reading a range of committed records across the commit log's segments: find
// the segment that holds an offset, then gather records in offset order up to
// a byte budget, from whichever copy of each segment is at hand (its memory
// cache, or records loaded from disk). Pure: the caller says which records a
// segment has, and is told which segment it must load to go on.
//
// Who calls it: commit-log.ts (readCached, read).

import type { Segment } from "./segment.ts";
import type { SegmentRecords } from "./segment-records.ts";
import type { LogRecord } from "./types.ts";

/** Index of the segment holding `offset` (segments ordered by base offset; the last when past all). */
function segmentIndexOf(segments: readonly Segment[], offset: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((segments[mid] as Segment).baseOffset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Gathers the records from `fromOffset` below `endOffset`: at least one when any exists, then
 * more while the total stays under about `maxBytes`. Damaged records (absent from a segment's
 * records) are skipped. Stops at the first segment `recordsOf` has nothing for, and names it as
 * `missing`.
 */
export function collectRecords(
  segments: readonly Segment[],
  fromOffset: number,
  endOffset: number,
  maxBytes: number,
  recordsOf: (segment: Segment) => SegmentRecords | undefined,
): { records: LogRecord[]; missing: Segment | null } {
  let from = fromOffset;
  const out: LogRecord[] = [];
  let bytes = 0;
  let index = segmentIndexOf(segments, from);
  while (from < endOffset && (out.length === 0 || bytes < maxBytes)) {
    const segment = segments[index];
    if (segment === undefined) break;
    const records = recordsOf(segment);
    if (records === undefined) return { records: out, missing: segment };
    const stop = Math.min(segment.endOffset, endOffset);
    for (; from < stop && (out.length === 0 || bytes < maxBytes); from += 1) {
      const record = records.get(from);
      if (record === undefined) continue;
      out.push(record);
      bytes += records.sizeOf(from);
    }
    index += 1;
  }
  return { records: out, missing: null };
}
