// Keeps the arrows of ../shared/DESIGN.md honest inside src/: server -> link
// -> router -> storage, protocol below them all, each module entered only
// through its index.ts. Reads import lines; type-only imports are listed
// separately where a layer needs a type from a layer it must not call.

import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const root = resolve(import.meta.dirname, "..");

/** What each folder of src/ may import besides its own files and the shared leaves. */
const ALLOWED: Record<string, string[]> = {
  protocol: [],
  router: ["src/protocol/index.ts", "storage/index.ts"],
  link: ["src/protocol/index.ts", "src/router/index.ts"],
  server: ["src/protocol/index.ts", "src/link/index.ts"],
  authz: ["src/protocol/index.ts"],
};
/** Type-only imports that cross an arrow: the server hands the router to each link it creates. */
const TYPE_ONLY: Record<string, string[]> = { server: ["src/router/index.ts"] };
const SHARED_LEAVES = ["src/errors.ts", "src/log.ts"];

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await files(path)));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

for (const [folder, allowed] of Object.entries(ALLOWED)) {
  test(`src/${folder}/ imports only what DESIGN.md's arrows allow, through front doors`, async () => {
    for (const file of await files(join(root, "src", folder))) {
      const text = await readFile(file, "utf8");
      for (const m of text.matchAll(
        /^\s*(import|export)( type)?[^"']*?from\s+["']([^"']+)["']/gm,
      )) {
        const spec = m[3] as string;
        if (!spec.startsWith(".")) continue;
        const target = relative(root, resolve(dirname(file), spec));
        if (target.startsWith(`src/${folder}/`) || SHARED_LEAVES.includes(target)) continue;
        const typeOnly = m[2] !== undefined && (TYPE_ONLY[folder] ?? []).includes(target);
        assert.ok(
          allowed.includes(target) || typeOnly,
          `${relative(root, file)} imports ${target}, which src/${folder}/ may not`,
        );
      }
    }
  });
}
