// Front door of src/config: load and validate the broker's TOML config file
// (new syntax, see ../shared/CONFIG.md). Other modules import only this file.

export { formatKeyPath, type KeyPath, LineLocator } from "./line-locator.ts";
export { loadConfig } from "./load-config.ts";
export { oldSyntaxError, parseConfig } from "./parse-config.ts";
export type * from "./types.ts";
