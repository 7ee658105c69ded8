// Front door of src/protocol: reason codes, the ProtocolError, topic rules
// and the codec. Other modules import only this file.

export {
  type AuthPacket,
  type ConnackPacket,
  type ConnectPacket,
  createDecoder,
  createSinkDecoder,
  type Decoder,
  type DecoderLimits,
  type DecoderOptions,
  type DecoderSink,
  type DisconnectPacket,
  encodePacket,
  type MqttPacket,
  type PacketType,
  type ProtocolVersion,
  type PublishPacket,
  type Qos,
  type SubackPacket,
  type SubscribePacket,
  type UnsubackPacket,
  type UnsubscribePacket,
} from "./codec.ts";
export {
  decodeFast,
  encodePublishFast,
  MEMO_MAX_TOPIC_BYTES,
  type TopicMemo,
} from "./fast-path.ts";
export {
  type AckCommand,
  acceptedConnackTemplate,
  ackTemplate,
  DUP_FLAG,
  type PacketTemplate,
  PublishTemplates,
  TemplateBudget,
  type TemplateSource,
} from "./packet-templates.ts";
export { ProtocolError } from "./protocol-error.ts";
export {
  ConnackReturnCodeV3,
  isFailure,
  ReasonCode,
  type ReasonCodeName,
  SubackFailureV3,
  toV3ConnackReturnCode,
} from "./reason-codes.ts";
export {
  MAX_TOPIC_BYTES,
  type TopicProblem,
  topicFilterProblem,
  topicMatches,
  topicNameProblem,
} from "./topic.ts";
export { type UserProperty, userPropertyListOf } from "./user-properties.ts";
