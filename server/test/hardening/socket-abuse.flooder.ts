import { randomUUID } from 'node:crypto';
import { io } from 'socket.io-client';

/*
 * The flooding client of case S3, run as a process of its own (its CPU must not be the test's): one user sending
 * `message:send` at RATE per second for DURATION_MS (`attempted`; `sent` are those made while connected), reconnecting
 * whenever the server cuts it off. Prints "ready" once connected, then one JSON line of counts when done.
 *   node --import tsx socket-abuse.flooder.ts URL TOKEN ROOM_ID RATE DURATION_MS
 */

const [url, token, roomId, rate, durationMs] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const counts = {
  attempted: 0,
  sent: 0,
  ok: 0,
  rateLimited: 0,
  other: 0,
  acked: 0,
  disconnects: 0,
  refusedHandshakes: 0,
};
export type FloodCounts = typeof counts;
const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
let end = Infinity;

// As an attacker would: reconnect at once when cut off, and keep retrying (every 50 ms) when refused.
socket.on('disconnect', () => {
  counts.disconnects++;
  if (Date.now() < end) socket.connect();
});
socket.on('connect_error', () => {
  counts.refusedHandshakes++;
  if (Date.now() < end) setTimeout(() => socket.connect(), 50);
});
socket.once('connect', () => {
  process.stdout.write('ready\n');
  end = Date.now() + Number(durationMs);
  const perTick = Number(rate) / 100;
  let owed = 0;
  const timer = setInterval(() => {
    if (Date.now() >= end) {
      clearInterval(timer);
      // Outstanding acks get a second, then the counts are final.
      setTimeout(() => {
        process.stdout.write(JSON.stringify(counts) + '\n');
        socket.disconnect();
        process.exit(0);
      }, 1000);
      return;
    }
    owed += perTick;
    for (; owed >= 1; owed--) {
      counts.attempted++;
      if (!socket.connected) continue;
      counts.sent++;
      const payload = { roomId, text: `flood ${counts.sent}`, clientId: randomUUID() };
      socket.emit('message:send', payload, (res: { ok: boolean; error?: { code: string } }) => {
        counts.acked++;
        if (res.ok) counts.ok++;
        else if (res.error?.code === 'RATE_LIMITED') counts.rateLimited++;
        else counts.other++;
      });
    }
  }, 10);
});
