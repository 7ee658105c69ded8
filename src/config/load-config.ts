// Reads a config file from disk and validates it with parseConfig.
//
// Who uses it: the rumqttd CLI and process tests. A file that cannot be read
// is ERR_CONFIG_READ, with the system's reason in one line.

import { readFile } from "node:fs/promises";
import { ConfigError } from "../errors.ts";
import { parseConfig } from "./parse-config.ts";
import type { Config } from "./types.ts";

export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError("ERR_CONFIG_READ", [`${file}: cannot read the config file (${reason})`], {
      cause: err,
    });
  }
  return parseConfig(text, file);
}
