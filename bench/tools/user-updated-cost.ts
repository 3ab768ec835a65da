// `node --import tsx --conditions=parley-source bench/tools/user-updated-cost.ts [--members=200,2000] [--rounds=20]`:
// what one rename (`PATCH /api/users/me {displayName}` → `user:updated` to every room of the user, general
// included) costs the server, with N members of general connected, against one message to general (the same
// fan-out). An in-process server on 127.0.0.1 (test config: limits lifted, SQLite in a temp dir); members are
// guests, each with one websocket. Per operation: the synchronous emit (Socket.IO encodes once, then writes to each
// socket), the request's round trip, and the time until the last member socket has the event (client parsing
// shares this process, so that one is an upper bound). Bounded: at most 5,000 members, at most 200 rounds.
// Docs: docs/DECISIONS.md, "Who hears user:updated".
import type { Session } from '@parley/protocol';
import { io, type Socket } from 'socket.io-client';
import { channel } from '../../server/src/realtime/channels.js';
import { client, register, startTestServer, uniqueName } from '../../server/src/test-support/server.js';
import { insertGuests } from '../lib/seed-db.js';

const args = process.argv.slice(2);
const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const SIZES = (value('members') ?? '200,2000').split(',').map(Number);
const ROUNDS = Math.min(200, Number(value('rounds') ?? 20));
if (SIZES.some((n) => !(n > 0 && n <= 5000))) throw new Error('--members: 1 to 5,000 each');

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const fmt = (xs: number[]) => `p50 ${pct(xs, 0.5).toFixed(2)} ms, p95 ${pct(xs, 0.95).toFixed(2)} ms`;

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const server = await startTestServer();
const call = client(server.url);
const { ctx } = server.parley;
const sockets: Socket[] = [];
/** Per event name, a counter that the operation under test waits on. */
const counts = new Map<string, number>();
let waiting: { event: string; until: number; resolve: () => void } | null = null;

function connect(token: string): Promise<Socket> {
  const s = io(server.url, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  for (const event of ['user:updated', 'message:new'])
    s.on(event as 'connect', () => {
      const n = (counts.get(event) ?? 0) + 1;
      counts.set(event, n);
      if (waiting && waiting.event === event && n >= waiting.until) {
        const w = waiting;
        waiting = null;
        w.resolve();
      }
    });
  sockets.push(s);
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

/** Runs `op`, timing the emit of `event` it makes, and waits until `receivers` sockets have that event. */
async function measure(event: string, receivers: number, op: () => Promise<void>) {
  const emits: number[] = [];
  const rt = ctx.rt as unknown as Record<string, (...a: unknown[]) => void>;
  const originals = { toRoom: rt.toRoom!, toRoomsAndUsers: rt.toRoomsAndUsers! };
  for (const name of ['toRoom', 'toRoomsAndUsers'] as const)
    rt[name] = function (this: unknown, ...a: unknown[]) {
      const t0 = performance.now();
      originals[name].apply(this, a);
      if (a.includes(event)) emits.push(performance.now() - t0);
    };
  try {
    counts.set(event, 0);
    const done = new Promise<void>((resolve) => (waiting = { event, until: receivers, resolve }));
    const t0 = performance.now();
    await op();
    const request = performance.now() - t0;
    await done;
    return { emit: emits.reduce((a, b) => a + b, 0), request, delivered: performance.now() - t0 };
  } finally {
    Object.assign(rt, originals);
  }
}

const renamer: Session = await register(call, uniqueName('renamer'));
await connect(renamer.accessToken);
const generalId = (await call('GET', '/api/chatrooms', { token: renamer.accessToken })).body.rooms.find(
  (r: { name: string }) => r.name === 'general',
).id as string;
let members = 1;
console.log(`user:updated cost, ${ROUNDS} rounds per size (in-process server, SQLite, 127.0.0.1)`);
for (const size of SIZES) {
  // Guests written straight into the database (bench/lib/seed-db.ts: what the guest sign-up writes), so that
  // seeding is not N sign-ups each announced to everyone already connected; then one socket each.
  const add = await insertGuests(
    { DATA_DIR: server.config.dataDir, JWT_SECRET: server.config.jwtSecret },
    Array.from({ length: Math.max(0, size - members) }, () => uniqueName('g')),
  );
  await mapLimit(add, 16, (g) => connect(g.accessToken));
  members += add.length;
  const inGeneral = () => server.parley.io.of('/').adapter.rooms.get(channel.room(generalId))?.size ?? 0;
  for (let i = 0; i < 500 && inGeneral() < members; i++) await new Promise((r) => setTimeout(r, 20));
  const online = inGeneral();
  const rename = { emit: [] as number[], request: [] as number[], delivered: [] as number[] };
  const message = { emit: [] as number[], request: [] as number[], delivered: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    const r = await measure('user:updated', online, async () => {
      const res = await call('PATCH', '/api/users/me', {
        token: renamer.accessToken,
        body: { displayName: `Renamed ${size} ${'abcdefghijklmnopqrstuvwxyz'[i % 26]}${Math.floor(i / 26)}` },
      });
      if (res.status !== 200) throw new Error(`rename: ${res.status} ${JSON.stringify(res.body)}`);
    });
    for (const k of ['emit', 'request', 'delivered'] as const) rename[k].push(r[k]);
    const m = await measure('message:new', online, async () => {
      const res = await call('POST', `/api/chatrooms/${generalId}/messages`, {
        token: renamer.accessToken,
        body: { text: `message ${i}` },
      });
      if (res.status !== 201) throw new Error(`message: ${res.status}`);
    });
    for (const k of ['emit', 'request', 'delivered'] as const) message[k].push(m[k]);
  }
  console.log(`${size} members of general, ${online} sockets in it:`);
  console.log(
    `  rename : emit ${fmt(rename.emit)}; request ${fmt(rename.request)}; all received ${fmt(rename.delivered)}`,
  );
  console.log(
    `  message: emit ${fmt(message.emit)}; request ${fmt(message.request)}; all received ${fmt(message.delivered)}`,
  );
}
for (const s of sockets) s.disconnect();
await server.close();
