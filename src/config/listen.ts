// Parses `listen = "host:port"` values: `0.0.0.0:1883`, `localhost:1883`,
// `[::1]:1883`. Pure; returns the problem as a string instead of throwing so
// the checker can collect it.
//
// Who uses it: the listener, console and prometheus readers.

import { isIP } from "node:net";

export interface ListenAddress {
  host: string;
  port: number;
}

const HOST_NAME =
  /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const USAGE = 'expected "host:port", for example "0.0.0.0:1883" or "[::1]:1883"';

/** The address, or a message saying what is wrong with `value`. */
export function parseListen(value: string): ListenAddress | string {
  const colon = value.lastIndexOf(":");
  if (colon < 0) return `"${value}" has no port: ${USAGE}`;
  let host = value.slice(0, colon);
  const portText = value.slice(colon + 1);
  if (host.startsWith("[") && host.endsWith("]")) {
    host = host.slice(1, -1);
    if (isIP(host) !== 6) return `"${host}" is not an IPv6 address: ${USAGE}`;
  } else if (host.includes(":")) {
    return `an IPv6 address needs brackets: "[${host}]:${portText}"`;
  } else if (host === "" || (isIP(host) === 0 && !HOST_NAME.test(host))) {
    return `"${host}" is not a host name or IP address: ${USAGE}`;
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535) {
    return `"${portText}" is not a port (0 to 65535): ${USAGE}`;
  }
  return { host, port: Number(portText) };
}
