// Two old-to-new rules that move text rather than rename it:
// - `[cluster]`, `[cluster.N]` and `[replicator]` have no equivalent: their
//   lines become comments (values kept) under a note, with a warning;
// - `router.dir` becomes `storage.dir`: out of `[router]` into a new
//   `[storage]` table placed right after it.
//
// Who uses it: old-to-new.ts. Edits go through the Rewrite; nothing else.

import type { Rewrite } from "./rewrite.ts";
import type { Statement } from "./toml-scan.ts";
import { type Edit, likeRaw } from "./toml-text.ts";

const MESH = new Set(["cluster", "replicator"]);

const MESH_WARNINGS: Record<string, string> = {
  cluster:
    "the replication mesh has no equivalent: this broker runs alone; the table is kept in the output as comments",
  replicator:
    "the mesh's connection settings have no equivalent: this broker runs alone; the table is kept in the output as comments",
};

/** Comments out every statement of the mesh tables; takes them from other rules. */
export function commentOutMesh(rw: Rewrite): void {
  let section: string | undefined;
  let run: { note: Edit; indent: string; names: Set<string> } | undefined;
  const warned = new Set<string>();
  const closeRun = () => {
    if (run === undefined) return;
    const names = [...run.names].map((n) => `[${n}]`).join(" and ");
    const verb = run.names.size > 1 ? "have" : "has";
    run.note.text = `${run.indent}# rumqttd-migrate: ${names} ${verb} no equivalent in the new syntax; the old values are kept below as comments.\n`;
    run = undefined;
  };
  for (const { statement, context, path } of rw.placed) {
    if (statement.kind === "comment" || statement.kind === "blank") continue;
    const top = String(path[0]);
    if (statement.kind === "header") section = MESH.has(top) ? top : undefined;
    const name = section ?? (context.length === 0 && MESH.has(top) ? top : undefined);
    if (name === undefined) {
      closeRun();
      continue;
    }
    // The note goes above the run; its text is known once the run ends.
    run ??= {
      note: rw.insert(statement.lineStart, ""),
      indent: rw.indentOf(statement),
      names: new Set(),
    };
    run.names.add(name);
    rw.take(statement);
    commentLines(rw, statement.lineStart, statement.lineEnd);
    if (!warned.has(name)) {
      warned.add(name);
      rw.warn(statement.line, [name], MESH_WARNINGS[name] ?? "no equivalent");
    }
  }
  closeRun();
}

/** Puts `# ` after the indentation of every line in [start, end). */
function commentLines(rw: Rewrite, start: number, end: number): void {
  let lineStart = start;
  while (lineStart < end) {
    const indent = /^[ \t]*/.exec(rw.text.slice(lineStart, end))?.[0].length ?? 0;
    rw.insert(lineStart + indent, "# ");
    const newline = rw.text.indexOf("\n", lineStart);
    if (newline < 0 || newline >= end) break;
    lineStart = newline + 1;
  }
}

/** `router.dir` -> `storage.dir`, in whichever of TOML's forms it was written. */
export function moveDataDir(rw: Rewrite): void {
  for (const visit of rw.keys()) {
    if (visit.path.length !== 2 || visit.path[0] !== "router" || visit.path[1] !== "dir") continue;
    const { statement, key, value } = visit;
    const raw = rw.slice(value);
    const line = key.at(-1)?.line ?? statement.line;
    if (visit.inline !== undefined) {
      // router = { id = 0, dir = "..." }: drop the entry, add a root line after.
      const { entries, index } = visit.inline;
      const entry = entries[index];
      const next = entries[index + 1];
      const previous = entries[index - 1];
      if (entry === undefined) continue;
      if (next !== undefined) rw.replace(entry.start, next.start, "");
      else if (previous !== undefined) rw.replace(previous.end, entry.end, "");
      else rw.replace(entry.start, entry.end, "");
      rw.insertLineAfter(statement, `${rw.indentOf(statement)}storage.dir = ${raw}`);
    } else if (key.length === 2) {
      // router.dir = "..." at the top level: rename in place.
      const segment = key[0];
      if (segment !== undefined)
        rw.replace(segment.start, segment.end, likeRaw(segment.raw, "storage"));
    } else {
      moveOutOfRouter(rw, statement, raw);
    }
    rw.change(line, ["router", "dir"], "moved to storage.dir");
  }
}

/** `dir` inside `[router]`: removed there, written into a new `[storage]` after the table. */
function moveOutOfRouter(rw: Rewrite, statement: Statement, raw: string): void {
  if (statement.kind !== "keyval") return;
  const index = rw.placed.findIndex((p) => p.statement === statement);
  let header = index;
  while (header > 0 && rw.placed[header]?.statement.kind !== "header") header--;
  const headerStatement = rw.placed[header]?.statement;
  const last = rw
    .section(header)
    .map((p) => p.statement)
    .filter((s) => s.kind === "keyval")
    .at(-1);
  if (headerStatement === undefined || last === undefined) return;
  const trailer = statement.comment
    ? rw.text.slice(statement.value.end, statement.comment.end)
    : "";
  rw.replace(statement.lineStart, statement.lineEnd, "");
  const headerIndent = rw.indentOf(headerStatement);
  rw.insertLineAfter(
    last,
    `\n${headerIndent}[storage]\n${rw.indentOf(statement)}dir = ${raw}${trailer}`,
  );
}
