import type { Message } from '@parley/protocol';
import { expect } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type TestServer,
} from '../../src/test-support/server.js';
import { byId, createRoom, expectOk, fullHistory, joinRoom, newClientId } from '../helpers/realtime.js';
import { connectSocket, emitAck, received, waitFor, type ClientSocket } from '../helpers/sockets.js';

/*
 * Case F4 (docs/SECURITY.md, Faults): a client goes offline while others keep talking, comes back, and catches up
 * with `messages:fetch {after: lastSeenId}` (pages of 100) while live messages keep arriving: together it must
 * have every message after the last one it saw, once each, in order. The 10-second and the 3-minute offline
 * clients run this same scenario from two files, so that the long one runs alongside the rest of the suite.
 */

export interface CatchUpFigures {
  offlineMs: number;
  sentWhileOffline: number;
  sentDuringCatchUp: number;
  fetched: number;
  pages: number;
  live: number;
  overlap: number;
}

/** Runs the scenario with the client offline for `offlineMs`; senders post every `everyMs`. */
export async function offlineCatchUp(offlineMs: number, everyMs: number): Promise<CatchUpFigures> {
  const server: TestServer = await startTestServer();
  const sockets: ClientSocket[] = [];
  try {
    const call = client(server.url);
    const [owner, other, away] = [
      await register(call, uniqueName('own')),
      await register(call, uniqueName('oth')),
      await register(call, uniqueName('away')),
    ];
    const room = await createRoom(call, owner);
    for (const s of [other, away]) await joinRoom(call, s, room.id);
    const senders = await Promise.all([owner, other].map((s) => connectSocket(server, s)));
    sockets.push(...senders);

    let n = 0;
    const send = async (i: number) => {
      const ack = await emitAck(senders[i % 2]!, 'message:send', {
        roomId: room.id,
        text: `m${++n}`,
        clientId: newClientId(),
      });
      return expectOk('message:send', ack).message;
    };
    /** Both senders, alternately, every `everyMs` until `until()` (bounded by count). */
    const talk = async (until: () => boolean, max: number) => {
      let sent = 0;
      for (; sent < max && !until(); sent++) {
        await send(sent);
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
      return sent;
    };

    // Online: the client sees a few messages live.
    const first = await connectSocket(server, away);
    sockets.push(first);
    for (let i = 0; i < 3; i++) await send(i);
    await waitFor(() => received(first, 'message:new', (m) => m.roomId === room.id).length === 3, 'live');
    const lastSeen = received(first, 'message:new', (m) => m.roomId === room.id).at(-1)!.id;

    // Offline, while the others keep talking.
    first.disconnect();
    const wentAway = Date.now();
    const sentWhileOffline = await talk(() => Date.now() - wentAway >= offlineMs, 100_000);

    // Back: the others are still talking while the client reconnects and pages through what it missed.
    let stop = false;
    const stillTalking = talk(() => stop, 1000);
    const back = await connectSocket(server, away);
    sockets.push(back);
    const fetched: Message[] = [];
    let pages = 0;
    for (let after = lastSeen; pages < 1000; pages++) {
      const ack = await emitAck(back, 'messages:fetch', { roomId: room.id, after, limit: 100 });
      const page = expectOk('messages:fetch', ack);
      fetched.push(...page.messages);
      if (!page.hasMore) break;
      after = page.messages.at(-1)!.id;
    }
    stop = true;
    const sentDuringCatchUp = await stillTalking;

    // Everything after lastSeen, as stored, once the last live message has arrived.
    const history = (await fullHistory(call, owner, room.id)).filter((m) => byId(m, { id: lastSeen }) > 0);
    const lastId = history.at(-1)!.id;
    // The last message arrives live, unless it was stored and broadcast while the client was still connecting (a
    // loaded machine: the talk during the catch-up may be one message, sent before the socket joined the room);
    // then the fetch, which runs after the join, has it.
    await waitFor(
      () =>
        fetched.some((m) => m.id === lastId) ||
        received(back, 'message:new', (m) => m.id === lastId).length > 0,
      'the last message, live or fetched',
      10_000,
    );
    const live = received(back, 'message:new', (m) => m.roomId === room.id);

    // No duplicate in either source, each in order.
    const ids = (ms: { id: string }[]) => ms.map((m) => m.id);
    expect(new Set(ids(fetched)).size).toBe(fetched.length);
    expect(new Set(ids(live)).size).toBe(live.length);
    expect(ids(fetched)).toEqual(ids([...fetched].sort(byId)));
    expect(ids(live)).toEqual(ids([...live].sort(byId)));
    // Together, no gap: exactly the stored messages after lastSeen.
    const merged = new Map<string, Message>();
    for (const m of [...fetched, ...live]) merged.set(m.id, m);
    expect(ids([...merged.values()].sort(byId))).toEqual(ids(history));
    expect(history.length).toBe(sentWhileOffline + sentDuringCatchUp);
    return {
      offlineMs,
      sentWhileOffline,
      sentDuringCatchUp,
      fetched: fetched.length,
      pages: pages + 1,
      live: live.length,
      overlap: fetched.length + live.length - merged.size,
    };
  } finally {
    for (const s of sockets) s.disconnect();
    await server.close();
  }
}

/** One line of figures for the suite's output (docs/SECURITY.md cites them). */
export const describeFigures = (f: CatchUpFigures) =>
  `F4 figures (offline ${f.offlineMs / 1000} s): ${f.sentWhileOffline} sent while offline, ` +
  `${f.sentDuringCatchUp} during the catch-up; fetched ${f.fetched} in ${f.pages} page(s), ${f.live} live, ` +
  `${f.overlap} in both; 0 missing, 0 duplicated`;
