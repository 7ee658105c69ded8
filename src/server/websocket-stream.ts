// One server-side WebSocket seen as a byte stream, so that a Link runs over it
// exactly as over a TCP socket (every MQTT behaviour is shared).
// - Reading: each binary message's bytes are pushed as they come; the link's
//   decoder does the framing, so one MQTT packet split over several messages
//   and several packets in one message both work ([MQTT-6.0.0-2]). A text
//   message closes the connection ([MQTT-6.0.0-1]). When the link stops
//   reading (backpressure), the WebSocket is paused.
// - Writing: each write is one binary message; its callback fires when the
//   bytes reach the socket, so the link's 'drain' handling applies.
// - end() sends a close frame (1000); destroy() terminates the socket.
//
// Who calls it: listener.ts, once per accepted WebSocket. Never parses MQTT.

import { Duplex } from "node:stream";
import type { WebSocket } from "ws";

/** WebSocket close code for a data type the endpoint cannot accept (RFC 6455 7.4.1). */
const CLOSE_UNSUPPORTED_DATA = 1003;
const CLOSE_NORMAL = 1000;

export function webSocketStream(ws: WebSocket, onTextFrame: () => void): Duplex {
  const stream = new Duplex({
    allowHalfOpen: false,
    read() {
      if (ws.isPaused) ws.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (ws.readyState !== ws.OPEN) {
        callback();
        return;
      }
      ws.send(chunk, { binary: true }, (error) => callback(error ?? null));
    },
    final(callback) {
      if (ws.readyState === ws.OPEN) ws.close(CLOSE_NORMAL);
      callback();
    },
    destroy(error, callback) {
      if (ws.readyState !== ws.CLOSED) ws.terminate();
      callback(error);
    },
  });
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (stream.destroyed) return;
    if (!isBinary) {
      // [MQTT-6.0.0-1] MQTT travels in binary frames; any other data frame closes the connection.
      onTextFrame();
      ws.close(CLOSE_UNSUPPORTED_DATA, "MQTT needs binary frames");
      stream.destroy();
      return;
    }
    if (!stream.push(data)) ws.pause();
  });
  // The peer's close ends the readable side once what came before it is read
  // (a DISCONNECT just before the close must still be seen); the stream then
  // ends its writable side and destroys itself.
  ws.once("close", () => {
    if (!stream.destroyed) stream.push(null);
  });
  ws.on("error", (error) => stream.destroy(error));
  return stream;
}
