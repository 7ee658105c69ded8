// Front door of src/router. Links and broker.ts import only this file.

export type { RouterLog } from "./delivery.ts";
export type { CommitWaiter } from "./group-commit.ts";
export type { ForwardedProperties, Message, OutgoingPublish, Qos } from "./message.ts";
export {
  type ConnectRequest,
  Router,
  type RouterOptions,
  type SubscribeRequest,
  type SubscribeResult,
} from "./router.ts";
export type { Session, SessionLink } from "./session.ts";
export type { SharedStrategy } from "./shared-group.ts";
export type { Will } from "./will-timer.ts";
