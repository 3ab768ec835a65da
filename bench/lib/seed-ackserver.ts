import { spawnListening } from './baseline.js';

/*
 * The ingest baseline: a bare Socket.IO server that answers `message:send` the way Parley does (an ack carrying the
 * message, and `message:new` to the sender's room) without authenticating, validating or storing anything. Parley's
 * acked msg/s over this server's is the price of durability and of everything else a real send does.
 */

const SOURCE = `
import http from 'node:http';
import { Server } from 'socket.io';
const server = http.createServer();
const io = new Server(server, { maxHttpBufferSize: 64 * 1024 });
let seq = 0;
io.on('connection', (socket) => {
  const room = 'r' + socket.id;
  socket.join(room);
  socket.on('message:send', (p, ack) => {
    const message = { id: String(++seq), roomId: String(p.roomId), kind: 'text', author: null, text: p.text,
      attachment: null, event: null, clientId: p.clientId ?? null, createdAt: new Date().toISOString(),
      editedAt: null, deleted: false };
    if (typeof ack === 'function') ack({ ok: true, data: { message } });
    io.to(room).emit('message:new', message);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => process.exit(0));
`;

export interface AckServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts the ack-only baseline (pinned to `cpu` when given); resolves once it listens. */
export async function startAckServer(cpu?: 0 | 1): Promise<AckServer> {
  const { port, pid, stop } = await spawnListening(
    'ack baseline',
    ['--input-type=module', '-e', SOURCE],
    cpu,
  );
  return { url: `http://127.0.0.1:${port}`, pid, stop };
}
