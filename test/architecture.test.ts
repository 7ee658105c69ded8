// Keeps the arrows of ../shared/DESIGN.md honest by reading import lines:
// the storage engine and the migrations import nothing of ours.

import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { test } from "node:test";

const root = resolve(import.meta.dirname, "..");

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out; // the folder does not exist yet
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

async function importsOf(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)[^"']*?from\s+["']([^"']+)["']/gm)].map(
    (m) => m[1] as string,
  );
}

for (const folder of ["storage", "migrations"]) {
  test(`${folder}/ imports only Node built-ins, packages and its own files`, async () => {
    for (const file of await sourceFiles(join(root, folder))) {
      for (const spec of await importsOf(file)) {
        if (!spec.startsWith(".")) continue;
        const target = relative(root, resolve(file, "..", spec));
        assert.ok(
          target.startsWith(`${folder}/`),
          `${relative(root, file)} imports ${spec}, outside ${folder}/`,
        );
      }
    }
  });
}
