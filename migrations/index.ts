// Front door of migrations/: pure text-to-text conversion of config files
// from older syntaxes to the one the broker runs, plus the TOML scanner the
// conversion edits text with. Imports nothing of ours, so src/config and the
// rumqttd-migrate CLI can both use it without a cycle.

export { detectSyntax, type Syntax } from "./detect.ts";
export { indexLines, type KeyPath, type PlacedStatement, placeStatements } from "./toml-paths.ts";
export {
  type KeySegment,
  type Statement,
  scanToml,
  type TomlNode,
  TomlScanError,
} from "./toml-scan.ts";
