// `node bench/tools/first-frame.mjs <url> [rounds=200]`: against a running Parley (e.g. WORKERS=2, with
// RATE_LIMIT_AUTH_PER_MIN lifted), each round signs in a guest (a request with a body) and then opens a WebSocket
// socket with its token, as the web client does. A socket whose engine opened (101 and the open packet arrived) but
// that never connects lost its first frame, the CONNECT packet the client sends right after the open packet.
import { io } from 'socket.io-client';

const url = process.argv[2];
const rounds = Number(process.argv[3] ?? 200);
const tally = {};
for (let i = 0; i < rounds; i++) {
  const r = await fetch(`${url}/api/auth/guest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: `ff${Math.random().toString(36).slice(2, 10)}` }),
  });
  const { accessToken } = await r.json();
  const s = io(url, {
    auth: { token: accessToken },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  let opened = false;
  s.io.on('open', () => (opened = true));
  const outcome = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(opened ? 'lost first frame' : 'no engine open'), 5000);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve('ok');
    });
    s.once('connect_error', (err) => {
      clearTimeout(timer);
      resolve(`refused ${err.message}`);
    });
  });
  tally[outcome] = (tally[outcome] ?? 0) + 1;
  s.disconnect();
}
console.log(JSON.stringify({ url, rounds, ...tally }));
process.exit(0);
