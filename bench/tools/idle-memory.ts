// `node --import tsx bench/tools/idle-memory.ts [--sockets=4000] [--users=200] [--kind=parley,socket.io]
// [--snapshot]`: a reduced scenario 2 (idle sockets) for working on per-socket memory. It opens the sockets from this
// process (socket.io-client, websocket transport, 200 handshakes in flight), measures each server's RSS before and
// after like bench/scenarios/idle.ts, and with --snapshot has the server write a heap snapshot before and after
// (--heapsnapshot-signal), which `bench/tools/heap-diff.ts` compares by constructor.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { spawnListening } from '../lib/baseline.js';
import { buildIfStale } from '../lib/build.js';
import { quiesce } from '../lib/ladder.js';
import { sampleProcess } from '../lib/proc.js';
import { mapLimit, seedUsers } from '../lib/seed.js';
import { ROOT, startParley } from '../lib/server.js';

const args = process.argv.slice(2);
const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const SOCKETS = Number(value('sockets') ?? 4000);
const USERS = Number(value('users') ?? 200);
const KINDS = (value('kind') ?? 'parley,socket.io').split(',');
const SNAPSHOT = args.includes('--snapshot');
const STATS = value('stats');
const LINGER = Number(value('linger') ?? 0);

async function settledRss(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i) await new Promise((r) => setTimeout(r, 1000));
    samples.push((await sampleProcess(pid)).rssBytes);
  }
  return samples.sort((a, b) => a - b)[1]!;
}

/** Has the server write a heap snapshot into ROOT and waits until the file stops growing. */
async function snapshot(pid: number, label: string): Promise<void> {
  const before = new Set(readdirSync(ROOT).filter((f) => f.endsWith('.heapsnapshot')));
  process.kill(pid, 'SIGUSR2');
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const fresh = readdirSync(ROOT).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!fresh.length) continue;
    await quiesce(pid, 120_000);
    console.log(`  snapshot ${label}: ${path.join(ROOT, fresh[0]!)}`);
    return;
  }
}

async function measure(kind: string): Promise<void> {
  const nodeArgs = [
    ...(SNAPSHOT ? ['--heapsnapshot-signal=SIGUSR2'] : []),
    ...(STATS ? [`--import=${STATS}`] : []),
  ];
  let url: string;
  let pid: number;
  let stop: () => Promise<void>;
  let tokens: (string | undefined)[] = [];
  if (kind === 'parley') {
    buildIfStale(console.log);
    const s = await startParley({ db: 'sqlite', nodeArgs });
    const seeded = await seedUsers(s, USERS, { concurrency: 32 });
    tokens = seeded.users.map((u) => u.accessToken);
    ({ url, pid, stop } = s);
  } else {
    const b = await spawnListening(kind, [...nodeArgs, path.join(ROOT, 'bench/baselines/socketio.mjs')]);
    ({ pid, stop } = b);
    url = `http://127.0.0.1:${b.port}`;
  }
  const sockets: Socket[] = [];
  try {
    await quiesce(pid);
    if (SNAPSHOT) await snapshot(pid, 'before');
    const before = await settledRss(pid);
    if (STATS) process.kill(pid, 'SIGHUP');
    const t0 = performance.now();
    let failed = 0;
    await mapLimit(
      Array.from({ length: SOCKETS }, (_, i) => i),
      200,
      (i) =>
        new Promise<void>((resolve) => {
          const token = tokens.length ? tokens[i % tokens.length] : undefined;
          const s = io(url, {
            transports: ['websocket'],
            reconnection: false,
            forceNew: true,
            auth: token ? { token } : {},
          });
          sockets.push(s);
          s.once('connect', () => resolve());
          s.once('connect_error', () => {
            failed++;
            resolve();
          });
        }),
    );
    await quiesce(pid, 60_000);
    const after = await settledRss(pid);
    if (STATS) process.kill(pid, 'SIGHUP');
    const ok = SOCKETS - failed;
    console.log(
      `${kind}: ${ok}/${SOCKETS} sockets in ${((performance.now() - t0) / 1000).toFixed(1)} s, RSS ` +
        `${(before / 2 ** 20).toFixed(0)} -> ${(after / 2 ** 20).toFixed(0)} MiB, ` +
        `${((after - before) / ok / 1024).toFixed(2)} KiB/socket`,
    );
    for (let t = 5; t <= LINGER; t += 5) {
      await new Promise((r) => setTimeout(r, 5000));
      if (STATS) process.kill(pid, 'SIGHUP');
      const rss = (await sampleProcess(pid)).rssBytes;
      console.log(
        `  +${t} s: RSS ${(rss / 2 ** 20).toFixed(0)} MiB, ${((rss - before) / ok / 1024).toFixed(2)} KiB/socket`,
      );
    }
    if (SNAPSHOT) await snapshot(pid, 'after');
  } finally {
    for (const s of sockets) s.disconnect();
    await stop();
  }
}

for (const kind of KINDS) await measure(kind);
process.exit(0);
