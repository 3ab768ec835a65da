// The classic Socket.IO chat example, as a baseline: on a message, emit it to everyone. No auth, no storage.
import http from 'node:http';
import { Server } from 'socket.io';

const server = http.createServer();
const io = new Server(server);
io.on('connection', (socket) => {
  socket.on('chat message', (msg) => io.emit('chat message', msg));
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
