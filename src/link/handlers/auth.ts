// MQTT 5 enhanced authentication (spec 4.12): the AUTH exchange of a
// CONNECT that names an Authentication Method, and re-authentication with
// AUTH 0x19 once connected. The method (auth-method.ts) judges the data;
// this file moves it between the client and the method and enforces the
// packet rules:
// - an unknown method: CONNACK 0x8C ([MQTT-4.12.0-1]);
// - every AUTH, and the CONNACK, carry the CONNECT's method ([MQTT-4.12.0-5]);
//   a client's AUTH with another method, or with no exchange to continue, is
//   a protocol error (0x82), and so is AUTH when no method was agreed;
// - re-authentication uses the same method ([MQTT-4.12.1-1]); its failure
//   is DISCONNECT 0x87 (or 0x8C) and the close ([MQTT-4.12.1-2]); other
//   packets flow meanwhile, on the previous authentication;
// - the user name may not change with a re-authentication.
// Failures are logged with the user name and a method-given detail, never
// with the authentication data.
//
// Who calls it: handlers/connect.ts (authenticateConnect) and dispatch.ts
// (handleAuth).

import {
  type AuthPacket,
  type ConnectPacket,
  ProtocolError,
  ReasonCode,
} from "../../protocol/index.ts";
import type { AuthExchange, AuthMethod, AuthStep } from "../auth-method.ts";
import type { LinkContext } from "../context.ts";

/** AUTH round trips one exchange may take before it is refused (SCRAM needs one). */
const MAX_AUTH_ROUNDS = 8;

/**
 * Runs the exchange of a CONNECT that named `name`; resolves with the data
 * for the CONNACK, or undefined when the client left. Throws the refusal.
 */
export async function authenticateConnect(
  link: LinkContext,
  packet: ConnectPacket,
  name: string,
): Promise<{ data: Buffer | undefined } | undefined> {
  const method = link.options.authMethods.get(name);
  if (method === undefined) {
    throw new ProtocolError("BadAuthenticationMethod", "authentication method not supported");
  }
  const exchange = method.start();
  let data = packet.properties?.authenticationData;
  for (let round = 0; round <= MAX_AUTH_ROUNDS; round++) {
    const step = await exchange.step(data);
    if (!link.open) return undefined;
    if (step.kind === "failure") {
      logFailure(link, method, step);
      throw new ProtocolError(step.reason, "authentication failed");
    }
    if (step.kind === "success") {
      // A CONNECT may name its user too; the method's user must be that one.
      if (packet.username !== undefined && packet.username !== step.username) {
        logFailure(link, method, {
          detail: "user name differs from the CONNECT's",
          username: step.username,
        });
        throw new ProtocolError("BadUserNameOrPassword", "authentication failed");
      }
      link.auth = { method, username: step.username, exchange: undefined, busy: false };
      link.logger.info(
        { event: "auth.succeeded", method: method.name, user: step.username },
        "authenticated",
      );
      return { data: step.data };
    }
    sendAuth(link, method, ReasonCode.ContinueAuthentication, step.data);
    const answer = await link.nextAuthPacket();
    if (answer === undefined) return undefined;
    data = checkedData(answer, method, ReasonCode.ContinueAuthentication);
  }
  logFailure(link, method, { detail: "too many authentication rounds" });
  throw new ProtocolError("NotAuthorized", "too many authentication rounds");
}

/** AUTH from a connected client: a re-authentication starts or continues. */
export async function handleAuth(link: LinkContext, packet: AuthPacket): Promise<void> {
  const state = link.auth;
  // [MQTT-4.12.0-6] No method was agreed in CONNECT: the client may not send AUTH.
  if (state === undefined) {
    throw new ProtocolError("ProtocolError", "AUTH without an authentication method");
  }
  if (state.busy) throw new ProtocolError("ProtocolError", "AUTH before the last one was answered");
  let exchange: AuthExchange;
  let data: Buffer | undefined;
  if (packet.reasonCode === ReasonCode.ReAuthenticate && state.exchange === undefined) {
    data = checkedData(packet, state.method, ReasonCode.ReAuthenticate);
    exchange = state.method.start();
    state.exchange = exchange;
  } else if (state.exchange !== undefined) {
    data = checkedData(packet, state.method, ReasonCode.ContinueAuthentication);
    exchange = state.exchange;
  } else {
    throw new ProtocolError("ProtocolError", "AUTH continues no exchange");
  }
  state.busy = true;
  let step: AuthStep;
  try {
    step = await exchange.step(data);
  } finally {
    state.busy = false;
  }
  if (!link.open) return;
  if (step.kind === "continue") {
    sendAuth(link, state.method, ReasonCode.ContinueAuthentication, step.data);
    return;
  }
  state.exchange = undefined;
  if (step.kind === "success" && step.username === state.username) {
    link.logger.info(
      { event: "auth.succeeded", method: state.method.name, user: step.username },
      "re-authenticated",
    );
    sendAuth(link, state.method, ReasonCode.Success, step.data);
    return;
  }
  const detail = step.kind === "failure" ? step.detail : "user name changed";
  logFailure(link, state.method, { detail, username: step.username ?? state.username });
  // [MQTT-4.12.1-2] DISCONNECT has no 0x86: a refused user is "not authorized".
  const reason =
    step.kind === "failure" && step.reason === "BadAuthenticationMethod"
      ? "BadAuthenticationMethod"
      : "NotAuthorized";
  throw new ProtocolError(reason, "re-authentication failed");
}

/** The data of a client's AUTH, once its reason code and method are the expected ones. */
function checkedData(
  packet: AuthPacket,
  method: AuthMethod,
  reasonCode: number,
): Buffer | undefined {
  // [MQTT-4.12.0-5], [MQTT-4.12.1-1] The same method throughout.
  if (packet.properties?.authenticationMethod !== method.name) {
    throw new ProtocolError("ProtocolError", "AUTH with another authentication method");
  }
  if (packet.reasonCode !== reasonCode) {
    throw new ProtocolError("ProtocolError", `AUTH reason code ${packet.reasonCode}`);
  }
  return packet.properties.authenticationData;
}

function sendAuth(
  link: LinkContext,
  method: AuthMethod,
  reasonCode: number,
  data: Buffer | undefined,
): void {
  link.send({
    cmd: "auth",
    reasonCode,
    properties: {
      authenticationMethod: method.name,
      ...(data === undefined ? {} : { authenticationData: data }),
    },
  });
}

/** Logs a refusal with the user name when the client named one (the field `user`, as everywhere). */
function logFailure(
  link: LinkContext,
  method: AuthMethod,
  failure: { detail: string; username?: string | undefined },
): void {
  link.logger.warn(
    { event: "auth.failed", method: method.name, user: failure.username, detail: failure.detail },
    "authentication failed",
  );
}
