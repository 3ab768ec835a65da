import type { ServerPayload, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type TestServer,
} from '../src/test-support/server.js';
import { closeAndSettle, connectReady, expectOk } from './helpers/realtime.js';
import {
  closeAllSockets,
  emitAck,
  nextEvent,
  received,
  waitFor,
  type ClientSocket,
} from './helpers/sockets.js';

/*
 * What a connect and a disconnect cost the presence hub (contract v2: "grows with the number of subscribers of
 * that user, never with the number of sockets online"). The hub counts its work (watchers visited, packets sent);
 * the same arrival is measured with no other socket, with hundreds of unrelated sockets (idle or watching someone
 * else), and with more subscribers of the user.
 */

let server: TestServer;
let target: Session;
let watcher: ClientSocket;
const extra: ClientSocket[] = [];

type Changed = ServerPayload<'presence:changed'>;
const about = (userId: string, online: boolean) => (p: Changed) =>
  online ? p.online.some((u) => u.id === userId) : p.offline.some((o) => o.userId === userId);

beforeAll(async () => {
  server = await startTestServer();
  const call = client(server.url);
  target = await register(call, uniqueName('target'));
  watcher = await connectReady(server, await register(call, uniqueName('watcher')));
  expectOk('presence:subscribe', await emitAck(watcher, 'presence:subscribe', { userIds: [target.user.id] }));
});

afterAll(async () => {
  closeAllSockets();
  await server?.close();
});

/** The hub's work for one arrival and one departure of `target`, as its watcher hears them. */
async function measure(): Promise<{ visits: number; emits: number; forwards: number }> {
  const stats = server.parley.ctx.presenceHub.stats;
  const before = { ...stats };
  const socket = await connectReady(server, target);
  await nextEvent(watcher, 'presence:changed', about(target.user.id, true));
  await closeAndSettle(server, socket);
  await nextEvent(watcher, 'presence:changed', about(target.user.id, false));
  return {
    visits: stats.visits - before.visits,
    emits: stats.emits - before.emits,
    forwards: stats.forwards - before.forwards,
  };
}

/** `n` sockets of a few other users; `watching`: what each of them subscribes to (nothing when undefined). */
async function openSockets(n: number, watching?: string[]): Promise<ClientSocket[]> {
  const call = client(server.url);
  const users = await Promise.all([1, 2, 3, 4].map(() => register(call, uniqueName('crowd'))));
  const opened: ClientSocket[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, (_, k) => connectReady(server, users[(i + k) % 4]!)),
    );
    if (watching)
      for (const s of batch)
        expectOk('presence:subscribe', await emitAck(s, 'presence:subscribe', { userIds: watching }));
    opened.push(...batch);
  }
  extra.push(...opened);
  return opened;
}

describe('presence hub cost', () => {
  it('a connect costs the same with 0 or 400 unrelated sockets, and grows with the user’s subscribers only', async () => {
    const alone = await measure();
    // One arrival and one departure, one watcher: one visit and one packet each; one node, nothing forwarded.
    expect(alone).toEqual({ visits: 2, emits: 2, forwards: 0 });

    const someoneElse = await register(client(server.url), uniqueName('else'));
    const idle = await openSockets(200);
    const watchingOthers = await openSockets(200, [someoneElse.user.id]);
    expect(server.parley.io.of('/').sockets.size).toBeGreaterThanOrEqual(401);
    const crowded = await measure();
    expect(crowded).toEqual(alone);
    // None of them heard of the target.
    for (const s of [...idle, ...watchingOthers])
      expect(received(s, 'presence:changed', about(target.user.id, true))).toEqual([]);

    // 50 more subscribers of the target: 50 more visits and packets per change, one each.
    const fans = await openSockets(50, [target.user.id]);
    const watched = await measure();
    expect(watched).toEqual({ visits: 2 + 100, emits: 2 + 100, forwards: 0 });
    // Sent at the same moment as the watcher's, they may still be on their way.
    await waitFor(
      () => fans.every((s) => received(s, 'presence:changed', about(target.user.id, false)).length === 1),
      'every fan to hear the departure',
    );
    for (const s of fans)
      expect(received(s, 'presence:changed', about(target.user.id, true))).toHaveLength(1);
  }, 60_000);

  it('idle sockets take no room in the hub; subscribers are forgotten when they go', async () => {
    const hub = server.parley.ctx.presenceHub;
    // The watcher, the 200 watching someone else, the 50 fans; the 200 idle ones are not there at all.
    expect(hub.size()).toEqual({ sockets: 251, users: 2 });
    for (const s of extra.splice(0)) s.disconnect();
    await closeAndSettle(server, watcher);
    await waitFor(() => hub.size().sockets === 0, 'the hub to forget every subscriber');
    expect(hub.size()).toEqual({ sockets: 0, users: 0 });
  });
});
