import { io as ioClient, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import type { TargetKind } from './protocol.js';

/** One connected load-generator socket, whatever the server. */
export interface BenchClient {
  /** Sends one chat message; `onAck(error)` is called when the server acknowledged it (Parley only). */
  send(
    text: string,
    clientId: string,
    roomId: string | undefined,
    onAck: (error: string | null) => void,
  ): void;
  /** Whether the socket is connected now (a reconnecting client is not). */
  connected(): boolean;
  close(): void;
}

interface ParleyAck {
  ok: boolean;
  error?: { code: string; message: string };
}

/**
 * Connects one socket and resolves once it is open; `onText` receives the text of every chat message delivered to
 * it. Every kind uses the WebSocket transport directly, so all three servers do the same handshake work.
 */
export function connectClient(
  kind: TargetKind,
  url: string,
  token: string | undefined,
  timeoutMs: number,
  onText: (text: string) => void,
  reconnect = false,
): Promise<BenchClient> {
  if (kind === 'ws') return connectWs(url, timeoutMs, onText);
  return new Promise((resolve, reject) => {
    const socket: Socket = ioClient(url, {
      transports: ['websocket'],
      // With `reconnect`, socket.io-client's defaults (1 s doubling to 5 s, ±50 % jitter), as the web client has.
      reconnection: reconnect,
      timeout: timeoutMs,
      forceNew: true,
      // Parley: as the web client, it takes several messages of a room in one frame (`messages:new`).
      ...(kind === 'parley' ? { auth: { token, messageBatches: true } } : {}),
    });
    if (kind === 'parley') {
      socket.on('message:new', (m: { text: string }) => onText(m.text));
      // Each message of a batch is a delivery of its own, with its own latency (its own send time).
      socket.on('messages:new', (b: { messages: { text: string }[] }) => {
        for (const m of b.messages) onText(m.text);
      });
    } else socket.on('chat message', (text: string) => onText(text));
    if (reconnect) {
      // A refusal by the server's middleware (RATE_LIMITED during a storm) is not retried by socket.io-client
      // itself; the web client retries it after a jittered pause, and so does this one.
      socket.on('connect_error', () => {
        if (!socket.active) setTimeout(() => socket.connect(), 1000 + Math.random() * 2000).unref();
      });
    }
    socket.once('connect', () => {
      socket.off('connect_error', failFirst);
      resolve({
        send(text, clientId, roomId, onAck) {
          if (kind === 'parley')
            socket.emit('message:send', { roomId, text, clientId }, (ack: ParleyAck) =>
              onAck(ack.ok ? null : (ack.error?.code ?? 'NO_ERROR_CODE')),
            );
          else socket.emit('chat message', text);
        },
        connected: () => socket.connected,
        close: () => socket.close(),
      });
    });
    const failFirst = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once('connect_error', failFirst);
  });
}

function connectWs(url: string, timeoutMs: number, onText: (text: string) => void): Promise<BenchClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
    ws.on('message', (data) => onText(String(data)));
    ws.once('open', () =>
      resolve({
        send: (text) => ws.send(text),
        connected: () => ws.readyState === WebSocket.OPEN,
        close: () => ws.terminate(),
      }),
    );
    // After the handshake an error only closes the socket; the loss it causes shows in the tally.
    ws.on('error', (err) => {
      ws.terminate();
      reject(err);
    });
  });
}
