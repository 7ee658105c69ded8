// Writes the checked-in corruption fixtures of the storage engine under
// test/fixtures/storage/: each folder is a damaged log directory and its
// expected.json says what opening and reading it must give. Run it only when
// the format changes (`npx tsx tools/make-storage-fixtures.ts`), then review
// and commit the result: the fixtures are meant to stay fixed.

import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import {
  encodeRecord,
  encodeSegmentHeader,
  SEGMENT_HEADER_SIZE,
  segmentFileName,
} from "../storage/record-format.ts";

const root = new URL("../test/fixtures/storage/", import.meta.url).pathname;

function record(offset: number): Buffer {
  return encodeRecord(offset, {
    topic: `fixture/${offset}`,
    qos: 1,
    retain: offset % 2 === 0,
    timestampMs: 1_700_000_000_000 + offset,
    expiresAtMs: null,
    body: Buffer.from(`payload ${offset}`),
  });
}

function segment(base: number, count: number): Buffer {
  const parts = [encodeSegmentHeader(base)];
  for (let i = 0; i < count; i += 1) parts.push(record(base + i));
  return Buffer.concat(parts);
}

async function fixture(name: string, files: Record<string, Buffer>, expected: object) {
  const dir = join(root, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const [file, bytes] of Object.entries(files)) await writeFile(join(dir, file), bytes);
  await writeFile(join(dir, "expected.json"), `${JSON.stringify(expected, null, 2)}\n`);
}

const seg0 = segmentFileName(0);
const seg3 = segmentFileName(3);

await fixture(
  "empty-segment",
  { [seg0]: Buffer.alloc(0) },
  {
    describe: "the only segment is an empty file (created, then the process died): it is rewritten",
    open: "ok",
    nextOffset: 0,
    readable: [],
    truncatedBytes: 0,
    repairedSegments: 1,
  },
);

await fixture(
  "short-header",
  { [seg0]: encodeSegmentHeader(0).subarray(0, 7) },
  {
    describe: "the only segment holds 7 bytes of its 20-byte header: it is rewritten",
    open: "ok",
    nextOffset: 0,
    readable: [],
    truncatedBytes: 7,
    repairedSegments: 1,
  },
);

const future = encodeSegmentHeader(0);
future.writeUInt16LE(2, 4);
// Keep the header's own CRC valid so that only the version is unknown.
future.writeUInt32LE(crc32(future.subarray(0, 16)), 16);
await fixture(
  "unknown-format-version",
  { [seg0]: Buffer.concat([future, record(0)]) },
  {
    describe:
      "a segment written by a newer format version: the log refuses to open, nothing is cut",
    open: "ERR_STORAGE_FORMAT",
  },
);

const torn = segment(0, 3);
const fourth = record(3);
await fixture(
  "torn-last-record",
  { [seg0]: Buffer.concat([torn, fourth.subarray(0, 20)]) },
  {
    describe: "the last record was cut short by a crash: it is cut off, the three before it stay",
    open: "ok",
    nextOffset: 3,
    readable: [0, 1, 2],
    truncatedBytes: 20,
    droppedRecords: 0,
    fileSizeAfter: torn.length,
  },
);

const middle = segment(0, 5);
let at = SEGMENT_HEADER_SIZE + record(0).length + record(1).length;
middle[at + 40] = (middle[at + 40] as number) ^ 0xff;
await fixture(
  "bad-crc-in-last-segment",
  { [seg0]: middle },
  {
    describe:
      "record 2 of 5 in the last segment fails its CRC: the tail is cut there (records 3 and 4 go with it)",
    open: "ok",
    nextOffset: 2,
    readable: [0, 1],
    truncatedBytes: middle.length - at,
    droppedRecords: 2,
  },
);

const closed = segment(0, 3);
at = SEGMENT_HEADER_SIZE + record(0).length;
closed[at + 40] = (closed[at + 40] as number) ^ 0x01;
await fixture(
  "bad-crc-in-closed-segment",
  { [seg0]: closed, [seg3]: segment(3, 2) },
  {
    describe:
      "record 1 of a closed segment fails its CRC: it is skipped and reported, every other record reads back",
    open: "ok",
    nextOffset: 5,
    readable: [0, 2, 3, 4],
    corrupt: [{ firstOffset: 1, lastOffset: 1 }],
    truncatedBytes: 0,
  },
);

console.log(`fixtures written under ${root}`);
