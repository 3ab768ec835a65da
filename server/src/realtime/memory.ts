import type { IoServer } from './channels.js';

/**
 * Lets each connected socket drop the HTTP request that opened it. Engine.IO keeps that `IncomingMessage` (its
 * headers, raw headers and stream state) for the life of the connection, ~1 KiB of every idle socket, although
 * Parley reads it only in the handshake middleware (the client address for the per-address socket limit). The
 * Socket.IO guide ("Memory usage") recommends releasing it; it is done once the `connection` listeners ran, so the
 * middleware still sees it. `socket.handshake` (headers, address, auth) stays: it is a separate object.
 */
export function releaseHandshakeRequests(io: IoServer): void {
  io.on('connection', (socket) => {
    (socket.conn as unknown as { request: unknown }).request = null;
  });
}
