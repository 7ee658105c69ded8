// Runs every test file under test/ through node:test with tsx.
// Node 20's `--test` neither expands globs nor picks up `.ts` files in a
// directory, so this script collects the explicit list. Arguments narrow the
// list to files whose path contains one of them (`npm run test:only storage`).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;

function collect(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "fixtures" && entry.name !== "node_modules") out.push(...collect(path));
    } else if (entry.name.endsWith(".test.ts")) {
      out.push(relative(root, path));
    }
  }
  return out;
}

const filters = process.argv.slice(2);
const files = collect(join(root, "test"))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error("run-tests: no test files matched");
  process.exit(2);
}
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-reporter=spec", ...files],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);
