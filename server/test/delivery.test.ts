import type { Message, Room, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../src/test-support/server.js';
import {
  addMember,
  byId,
  closeAndSettle,
  closeRawSockets,
  connectReady,
  createRoom,
  disconnected,
  expectFail,
  expectHandshakeRefused,
  expectMessage,
  expectNoneBy,
  expectOk,
  expectRoom,
  expectStatusOf,
  expectUser,
  fullHistory,
  generalRoomId,
  joinRoom,
  messageMarker,
  MISSING_ID,
  newClientId,
  postMessage,
  roomAs,
  sortedKeys,
  userOf,
} from './helpers/realtime.js';
import { closeAllSockets, emitAck, nextEvent, received, waitFor } from './helpers/sockets.js';

/*
 * The contract's delivery guarantees over real sockets: an acknowledged message is stored once and reaches every
 * member socket once, in stored order, resends included; a reconnecting client fills its gap with
 * `messages:fetch {after}`; membership changes (join, leave, kick) and ended sessions (logout, revocation; token
 * expiry in hardening/auth.hardening.ts) take effect on the sockets at once; unread counts follow reads and new messages.
 */

let server: TestServer;
let call: Call;
let generalId: string;

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  generalId = await generalRoomId(call, await register(call, uniqueName('first')));
});

afterAll(async () => {
  closeAllSockets();
  closeRawSockets();
  await server?.close();
});

/** A marker every socket of a signed-in user gets: a message in general. */
const generalMarker = (by: Session) => messageMarker(call, by, generalId);

/** A room owned by `owner` with `members` joined, everyone's sockets connected afterwards. */
async function roomWith(owner: Session, members: Session[], kind: 'public' | 'private' = 'public') {
  const room = await createRoom(call, owner, kind);
  for (const m of members)
    if (kind === 'public') await joinRoom(call, m, room.id);
    else await addMember(call, owner, room.id, m);
  return room;
}

describe('exactly once', () => {
  it('an acked message is stored once and reaches every member socket once: both tabs, the sender’s own too', async () => {
    const [ann, ben, cat] = [
      await register(call, uniqueName('ann')),
      await register(call, uniqueName('ben')),
      await register(call, uniqueName('cat')),
    ];
    const room = await roomWith(ann, [ben]);
    const annTab1 = await connectReady(server, ann);
    const annTab2 = await connectReady(server, ann);
    const benTab1 = await connectReady(server, ben);
    const benTab2 = await connectReady(server, ben);
    const catSocket = await connectReady(server, cat);
    const members = [annTab1, annTab2, benTab1, benTab2];

    const clientId = newClientId();
    const first = await emitAck(annTab1, 'message:send', { roomId: room.id, text: 'once', clientId });
    const { message } = expectOk('message:send', first);
    expectMessage(message, { roomId: room.id, text: 'once', clientId, kind: 'text' });
    expectUser(message.author, ann);
    for (const s of members)
      expect(await nextEvent(s, 'message:new', (m) => m.id === message.id)).toEqual(message);

    // The client did not see the ack (say) and sends again: same message, not stored or broadcast twice.
    const again = await emitAck(annTab2, 'message:send', { roomId: room.id, text: 'once', clientId });
    expect(expectOk('message:send', again).message).toEqual(message);
    // Even with other text: the clientId names the message.
    const changed = await emitAck(annTab1, 'message:send', { roomId: room.id, text: 'twice?', clientId });
    expect(expectOk('message:send', changed).message).toEqual(message);
    // And over REST.
    const rest = await call('POST', `/api/chatrooms/${room.id}/messages`, {
      token: ann.accessToken,
      body: { text: 'once', clientId },
    });
    expect(rest.status).toBe(201);
    expect(rest.body).toEqual(message);

    const marker = await generalMarker(ann);
    for (const s of members) {
      await nextEvent(s, marker.name, marker.where);
      expect(received(s, 'message:new', (m) => m.roomId === room.id && m.kind === 'text')).toEqual([message]);
    }
    await expectNoneBy(catSocket, marker, [['message:new', (m) => m.roomId === room.id]]);
    const stored = (await fullHistory(call, ann, room.id)).filter((m) => m.kind === 'text');
    expect(stored).toEqual([message]);
  });

  it('two copies of one send racing each other store and broadcast one message', async () => {
    const [ann, ben] = [await register(call, uniqueName('ann')), await register(call, uniqueName('ben'))];
    const room = await roomWith(ann, [ben]);
    const [a1, a2, b] = [
      await connectReady(server, ann),
      await connectReady(server, ann),
      await connectReady(server, ben),
    ];
    for (let round = 0; round < 5; round++) {
      const clientId = newClientId();
      const payload = { roomId: room.id, text: `race ${round}`, clientId };
      const acks = await Promise.all([
        emitAck(a1, 'message:send', payload),
        emitAck(a2, 'message:send', payload),
        emitAck(a1, 'message:send', payload),
      ]);
      const ids = acks.map((a) => expectOk('message:send', a).message.id);
      expect(new Set(ids).size, JSON.stringify(acks)).toBe(1);
    }
    const marker = await generalMarker(ann);
    await nextEvent(b, marker.name, marker.where);
    const got = received(b, 'message:new', (m) => m.roomId === room.id && m.kind === 'text');
    expect(got.map((m) => m.text)).toEqual([0, 1, 2, 3, 4].map((i) => `race ${i}`));
    const stored = (await fullHistory(call, ann, room.id)).filter((m) => m.kind === 'text');
    expect(stored).toEqual(got);
  });

  it('a clientId already used in another room is a CONFLICT, and nothing is sent', async () => {
    const ann = await register(call, uniqueName('ann'));
    const [r1, r2] = [await createRoom(call, ann), await createRoom(call, ann)];
    const socket = await connectReady(server, ann);
    const clientId = newClientId();
    expectOk(
      'message:send',
      await emitAck(socket, 'message:send', { roomId: r1.id, text: 'here', clientId }),
    );
    expectFail(await emitAck(socket, 'message:send', { roomId: r2.id, text: 'there', clientId }), 'CONFLICT');
    expect((await fullHistory(call, ann, r2.id)).filter((m) => m.kind === 'text')).toEqual([]);
    // Another user's clientId is theirs: the same value is a different message.
    const bob = await register(call, uniqueName('bob'));
    await joinRoom(call, bob, r1.id);
    const bobSocket = await connectReady(server, bob);
    const bobs = expectOk(
      'message:send',
      await emitAck(bobSocket, 'message:send', { roomId: r1.id, text: 'mine', clientId }),
    );
    expect(bobs.message.author!.id).toBe(bob.user.id);
    expect(bobs.message.text).toBe('mine');
  });

  it('REST writes broadcast exactly as socket events do', async () => {
    const [ann, ben] = [await register(call, uniqueName('ann')), await register(call, uniqueName('ben'))];
    const room = await roomWith(ann, [ben]);
    const b = await connectReady(server, ben);
    const posted = await postMessage(call, ann, room.id, 'via rest');
    expect(await nextEvent(b, 'message:new', (m) => m.id === posted.id)).toEqual(posted);
    const patched = await call('PATCH', `/api/messages/${posted.id}`, {
      token: ann.accessToken,
      body: { text: 'via rest, edited' },
    });
    expectStatusOf(patched, 200);
    expect(await nextEvent(b, 'message:updated', (m) => m.id === posted.id)).toEqual(patched.body);
    expectStatusOf(await call('DELETE', `/api/messages/${posted.id}`, { token: ann.accessToken }), 204);
    expect(await nextEvent(b, 'message:deleted', (m) => m.id === posted.id)).toEqual({
      id: posted.id,
      roomId: room.id,
    });
  });
});

describe('order', () => {
  it(
    '200 concurrent sends from 4 users reach every member socket in stored order, each once; history agrees',
    {
      timeout: 90_000,
    },
    async () => {
      const senders: Session[] = [];
      for (let k = 0; k < 4; k++) senders.push(await register(call, uniqueName('load')));
      const listener = await register(call, uniqueName('ear'));
      const room = await roomWith(senders[0]!, [...senders.slice(1), listener]);
      const listenerSocket = await connectReady(server, listener);
      const senderSockets = await Promise.all(senders.map((s) => connectReady(server, s)));
      const watchers = [listenerSocket, ...senderSockets];
      const PER_SENDER = 50;

      // Three senders use their sockets, the fourth REST: both paths share one order.
      const sends: Promise<Message>[] = [];
      for (let i = 0; i < PER_SENDER; i++) {
        senders.forEach((s, k) => {
          const text = `load ${k}.${i}`;
          const clientId = newClientId();
          if (k === 3) {
            sends.push(
              call('POST', `/api/chatrooms/${room.id}/messages`, {
                token: s.accessToken,
                body: { text, clientId },
              }).then((r) => {
                expectStatusOf(r, 201);
                return r.body as Message;
              }),
            );
          } else {
            sends.push(
              emitAck(senderSockets[k]!, 'message:send', { roomId: room.id, text, clientId }, 60_000).then(
                (a) => expectOk('message:send', a).message,
              ),
            );
          }
        });
      }
      const acked = await Promise.all(sends);
      expect(acked).toHaveLength(4 * PER_SENDER);
      expect(new Set(acked.map((m) => m.id)).size).toBe(acked.length);

      const isLoad = (m: Message) => m.roomId === room.id && m.kind === 'text';
      for (const s of watchers)
        await waitFor(
          () => received(s, 'message:new', isLoad).length >= acked.length,
          'all 200 messages to arrive',
          60_000,
        );
      const stored = (await fullHistory(call, listener, room.id)).filter(isLoad);
      expect(stored.map((m) => m.id)).toEqual([...acked].sort(byId).map((m) => m.id));
      // Nothing more arrives after them (a duplicate would have been sent before this marker).
      const marker = await generalMarker(listener);
      for (const s of watchers) {
        await nextEvent(s, marker.name, marker.where);
        const got = received(s, 'message:new', isLoad);
        expect(got).toHaveLength(acked.length);
        for (let i = 1; i < got.length; i++)
          expect(BigInt(got[i]!.id), `message ${i} arrived out of order`).toBeGreaterThan(
            BigInt(got[i - 1]!.id),
          );
        expect(got).toEqual(stored);
      }
      // Each sender's own messages are in the order it sent them.
      for (let k = 0; k < 4; k++) {
        const mine = stored.filter((m) => m.author!.id === senders[k]!.user.id).map((m) => m.text);
        if (k < 3) expect(mine).toEqual(Array.from({ length: PER_SENDER }, (_, i) => `load ${k}.${i}`));
        else expect(mine.sort()).toEqual(Array.from({ length: PER_SENDER }, (_, i) => `load 3.${i}`).sort());
      }
    },
  );
});

describe('reconnecting', () => {
  it('a client that missed 7 messages gets exactly those, in order, with messages:fetch {after: lastSeenId}', async () => {
    const [ann, ben] = [await register(call, uniqueName('ann')), await register(call, uniqueName('ben'))];
    const room = await roomWith(ann, [ben]);
    const annSocket = await connectReady(server, ann);
    let benSocket = await connectReady(server, ben);
    for (let i = 0; i < 3; i++)
      expectOk(
        'message:send',
        await emitAck(annSocket, 'message:send', {
          roomId: room.id,
          text: `seen ${i}`,
          clientId: newClientId(),
        }),
      );
    await waitFor(
      () => received(benSocket, 'message:new', (m) => m.text === 'seen 2').length === 1,
      'ben to see the first messages',
    );
    const lastSeenId = received(benSocket, 'message:new', (m) => m.roomId === room.id).at(-1)!.id;

    await closeAndSettle(server, benSocket);
    const missed: Message[] = [];
    for (let i = 0; i < 7; i++) {
      const ack = await emitAck(annSocket, 'message:send', {
        roomId: room.id,
        text: `missed ${i}`,
        clientId: newClientId(),
      });
      missed.push(expectOk('message:send', ack).message);
    }

    // A new socket with the same token.
    benSocket = await connectReady(server, ben);
    const page = expectOk(
      'messages:fetch',
      await emitAck(benSocket, 'messages:fetch', { roomId: room.id, after: lastSeenId }),
    );
    expect(page).toEqual({ messages: missed, hasMore: false });
    // In smaller pages: no gap, no duplicate.
    const first = expectOk(
      'messages:fetch',
      await emitAck(benSocket, 'messages:fetch', { roomId: room.id, after: lastSeenId, limit: 4 }),
    );
    expect(first).toEqual({ messages: missed.slice(0, 4), hasMore: true });
    const rest = expectOk(
      'messages:fetch',
      await emitAck(benSocket, 'messages:fetch', {
        roomId: room.id,
        after: first.messages.at(-1)!.id,
        limit: 4,
      }),
    );
    expect(rest).toEqual({ messages: missed.slice(4), hasMore: false });
    // And the live stream continues on the new socket.
    const next = await postMessage(call, ann, room.id, 'live again');
    expect(await nextEvent(benSocket, 'message:new', (m) => m.id === next.id)).toEqual(next);
    expect(received(benSocket, 'message:new', (m) => m.text.startsWith('missed'))).toEqual([]);
  });
});

describe('room:join and room:leave', () => {
  it(
    'room:join acks the room, the latest 50 messages oldest first, and who is online; the room hears it',
    {
      timeout: 60_000,
    },
    async () => {
      const [owner, joiner, outsider] = [
        await register(call, uniqueName('own')),
        await register(call, uniqueName('join')),
        await register(call, uniqueName('out')),
      ];
      const room = await createRoom(call, owner);
      for (let i = 0; i < 55; i++) await postMessage(call, owner, room.id, `old ${i}`);
      const ownerSocket = await connectReady(server, owner);
      const tab1 = await connectReady(server, joiner);
      const tab2 = await connectReady(server, joiner);
      const outsiderSocket = await connectReady(server, outsider);

      const ack = await emitAck(tab1, 'room:join', { roomId: room.id });
      const data = expectOk('room:join', ack);
      expectRoom(data.room, { id: room.id, name: room.name, isMember: true, memberCount: 2, unreadCount: 0 });
      const history = await fullHistory(call, owner, room.id);
      expect(data.messages).toHaveLength(50);
      expect(data.messages).toEqual(history.slice(-50));
      for (let i = 1; i < 50; i++) expect(byId(data.messages[i - 1]!, data.messages[i]!)).toBe(-1);
      // The latest is the joiner's own "joined" entry.
      expectMessage(data.messages.at(-1), { kind: 'system', event: 'joined', roomId: room.id });
      expect(data.messages.at(-1)!.author).toEqual(userOf(joiner));
      expect(data.online.map((u) => u.id).sort()).toEqual([owner.user.id, joiner.user.id].sort());
      for (const u of data.online) expectUser(u);

      const joined = await nextEvent(ownerSocket, 'room:member-joined', (p) => p.roomId === room.id);
      expect(sortedKeys(joined)).toEqual(['at', 'roomId', 'user']);
      expect(joined.user).toEqual(userOf(joiner));
      const system = await nextEvent(
        ownerSocket,
        'message:new',
        (m) => m.roomId === room.id && m.kind === 'system',
      );
      expect(system).toEqual(data.messages.at(-1));
      await expectNoneBy(outsiderSocket, await generalMarker(owner), [
        ['room:member-joined', (p) => p.roomId === room.id],
        ['message:new', (m) => m.roomId === room.id],
      ]);

      // Every socket of the joiner is subscribed now, not just the one that asked.
      const next = await postMessage(call, owner, room.id, 'welcome');
      for (const s of [tab1, tab2])
        expect(await nextEvent(s, 'message:new', (m) => m.id === next.id)).toEqual(next);

      // Joining again changes nothing and tells nobody.
      const again = expectOk('room:join', await emitAck(tab2, 'room:join', { roomId: room.id }));
      expect(again.room.memberCount).toBe(2);
      expect(again.messages.at(-1)).toEqual(next);
      await expectNoneBy(ownerSocket, await generalMarker(owner), []);
      expect(received(ownerSocket, 'room:member-joined', (p) => p.roomId === room.id)).toHaveLength(1);
    },
  );

  it('several users joining one room at once all get in, and the room hears each once', async () => {
    const owner = await register(call, uniqueName('own'));
    const joiners: Session[] = [];
    for (let i = 0; i < 4; i++) joiners.push(await register(call, uniqueName('rush')));
    const room = await createRoom(call, owner);
    const ownerSocket = await connectReady(server, owner);
    const sockets = await Promise.all(joiners.map((j) => connectReady(server, j)));
    const acks = await Promise.all(sockets.map((s) => emitAck(s, 'room:join', { roomId: room.id })));
    for (const a of acks) expectOk('room:join', a);
    expect((await roomAs(call, owner, room.id)).memberCount).toBe(1 + joiners.length);
    for (const j of joiners)
      await nextEvent(
        ownerSocket,
        'room:member-joined',
        (p) => p.roomId === room.id && p.user.id === j.user.id,
      );
    await expectNoneBy(ownerSocket, await generalMarker(owner), []);
    expect(received(ownerSocket, 'room:member-joined', (p) => p.roomId === room.id)).toHaveLength(
      joiners.length,
    );
    const joined = (await fullHistory(call, owner, room.id)).filter((m) => m.event === 'joined');
    expect(joined.map((m) => m.author!.id).sort()).toEqual([owner, ...joiners].map((s) => s.user.id).sort());
  });

  it('room:join of a room with few messages returns them all; of a private room one is not in, NOT_FOUND', async () => {
    const [owner, joiner] = [
      await register(call, uniqueName('own')),
      await register(call, uniqueName('join')),
    ];
    const room = await createRoom(call, owner);
    const secret = await createRoom(call, owner, 'private');
    const socket = await connectReady(server, joiner);
    const data = expectOk('room:join', await emitAck(socket, 'room:join', { roomId: room.id }));
    expect(data.messages).toEqual(await fullHistory(call, owner, room.id));
    expect(data.messages.length).toBeLessThanOrEqual(50);
    expectFail(await emitAck(socket, 'room:join', { roomId: secret.id }), 'NOT_FOUND');
    expect((await roomAs(call, owner, secret.id)).memberCount).toBe(1);
  });

  it('room:leave: the room hears room:member-left (left); the leaver’s sockets stop getting the room at once', async () => {
    const [owner, leaver] = [
      await register(call, uniqueName('own')),
      await register(call, uniqueName('leave')),
    ];
    const room = await roomWith(owner, [leaver]);
    const ownerSocket = await connectReady(server, owner);
    const tab1 = await connectReady(server, leaver);
    const tab2 = await connectReady(server, leaver);

    expect(await emitAck(tab1, 'room:leave', { roomId: room.id })).toEqual({ ok: true, data: {} });
    const left = await nextEvent(ownerSocket, 'room:member-left', (p) => p.roomId === room.id);
    expect(sortedKeys(left)).toEqual(['at', 'reason', 'roomId', 'userId']);
    expect(left).toMatchObject({ roomId: room.id, userId: leaver.user.id, reason: 'left' });
    const system = await nextEvent(
      ownerSocket,
      'message:new',
      (m) => m.roomId === room.id && m.event === 'left',
    );
    expectMessage(system, { kind: 'system', event: 'left' });
    expect(system.author).toEqual(userOf(leaver));
    // The user hears it on every tab.
    for (const s of [tab1, tab2])
      expect(await nextEvent(s, 'room:member-left', (p) => p.roomId === room.id)).toEqual(left);

    // At once: the next message in the room does not reach the leaver's sockets.
    const after = await postMessage(call, owner, room.id, 'after you left');
    await nextEvent(ownerSocket, 'message:new', (m) => m.id === after.id);
    const marker = await generalMarker(owner);
    for (const s of [tab1, tab2])
      await expectNoneBy(s, marker, [['message:new', (m) => m.id === after.id || m.id === system.id]]);
    expect((await roomAs(call, leaver, room.id)).isMember).toBe(false);
    // Leaving again: not a member.
    expectFail(await emitAck(tab2, 'room:leave', { roomId: room.id }), 'NOT_FOUND');
  });
});

describe('kicked, logged out, expired', () => {
  it('logout: that session’s sockets get session:ended, then are disconnected; other sessions carry on', async () => {
    const name = uniqueName('out');
    const a = await register(call, name);
    const login = await call('POST', '/api/auth/login', {
      body: { username: name, password: 'correct-horse-9' },
    });
    expectStatusOf(login, 200);
    const b: Session = login.body;
    const friend = await register(call, uniqueName('friend'));
    const [aTab1, aTab2, bSocket, friendSocket] = [
      await connectReady(server, a),
      await connectReady(server, a),
      await connectReady(server, b),
      await connectReady(server, friend),
    ];
    expectOk(
      'presence:subscribe',
      await emitAck(friendSocket, 'presence:subscribe', { userIds: [a.user.id] }),
    );
    const endings = [aTab1, aTab2].map(
      (s) =>
        new Promise<{ reason: string; endedFirst: unknown[] }>((resolve) =>
          s.once('disconnect', (reason) => resolve({ reason, endedFirst: received(s, 'session:ended') })),
        ),
    );
    expectStatusOf(
      await call('POST', '/api/auth/logout', {
        token: a.accessToken,
        body: { refreshToken: a.refreshToken },
      }),
      204,
    );
    for (const ending of endings)
      expect(await ending).toEqual({ reason: 'io server disconnect', endedFirst: [{ reason: 'logout' }] });
    // The other session's socket is untouched and still receives.
    const after = await postMessage(call, friend, generalId, 'still there?');
    expect(await nextEvent(bSocket, 'message:new', (m) => m.id === after.id)).toEqual(after);
    expect(bSocket.connected).toBe(true);
    expect(received(bSocket, 'session:ended')).toEqual([]);
    // The logged-out token cannot connect again.
    expect((await expectHandshakeRefused(server, { auth: { token: a.accessToken } })).message).toBe(
      'UNAUTHORIZED',
    );
    // The user is still online (session b), so a watcher heard no offline: a user it also watches connecting
    // after that is the marker.
    const mark = await register(call, uniqueName('mark'));
    expectOk(
      'presence:subscribe',
      await emitAck(friendSocket, 'presence:subscribe', { userIds: [a.user.id, mark.user.id] }),
    );
    await connectReady(server, mark);
    await expectNoneBy(
      friendSocket,
      { name: 'presence:changed', where: (p) => p.online.some((u: { id: string }) => u.id === mark.user.id) },
      [['presence:changed', (p) => p.offline.some((o: { userId: string }) => o.userId === a.user.id)]],
    );
  });

  it('a password change ends the user’s other sessions on their sockets (session:ended password_changed)', async () => {
    const name = uniqueName('pw');
    const a = await register(call, name);
    const login = await call('POST', '/api/auth/login', {
      body: { username: name, password: 'correct-horse-9' },
    });
    const b: Session = login.body;
    const aSocket = await connectReady(server, a);
    const bSocket = await connectReady(server, b);
    const gone = disconnected(bSocket);
    expectStatusOf(
      await call('POST', '/api/users/me/password', {
        token: a.accessToken,
        body: { currentPassword: 'correct-horse-9', newPassword: 'battery-staple-10' },
      }),
      204,
    );
    expect(await gone).toBe('io server disconnect');
    expect(received(bSocket, 'session:ended')).toEqual([{ reason: 'password_changed' }]);
    expect(aSocket.connected).toBe(true);
    expect((await expectHandshakeRefused(server, { auth: { token: b.accessToken } })).message).toBe(
      'UNAUTHORIZED',
    );
  });
});

describe('long-lived access tokens', () => {
  it('a token valid for 30 days keeps its socket (no early session:ended)', async () => {
    const long = await startTestServer({ accessTokenTtlSec: 30 * 86400 });
    try {
      const lcall = client(long.url);
      const [s, other] = [
        await register(lcall, uniqueName('long')),
        await register(lcall, uniqueName('other')),
      ];
      const socket = await connectReady(long, s);
      expectOk('presence:list', await emitAck(socket, 'presence:list', {}));
      const general = await generalRoomId(lcall, other);
      const m = await postMessage(lcall, other, general, 'still with us?');
      await nextEvent(socket, 'message:new', (p) => p.id === m.id);
      expect(socket.connected).toBe(true);
      expect(received(socket, 'session:ended')).toEqual([]);
      socket.disconnect();
    } finally {
      await long.close();
    }
  });
});

describe('unread counts', () => {
  it('room:read answers the unread count; GET /api/chatrooms/:id agrees after reads and new messages', async () => {
    const [owner, reader, third] = [
      await register(call, uniqueName('own')),
      await register(call, uniqueName('read')),
      await register(call, uniqueName('third')),
    ];
    const room = await roomWith(owner, [reader]);
    const socket = await connectReady(server, reader);
    const unread = async () => (await roomAs(call, reader, room.id)).unreadCount;
    const read = async (messageId: string) =>
      expectOk('room:read', await emitAck(socket, 'room:read', { roomId: room.id, messageId })).unreadCount;
    const listed = async () => {
      const res = await call('GET', '/api/chatrooms', { token: reader.accessToken });
      return res.body.rooms.find((r: Room) => r.id === room.id).unreadCount;
    };

    expect(await unread()).toBe(0);
    const m = [
      await postMessage(call, owner, room.id, 'one'),
      await postMessage(call, owner, room.id, 'two'),
      await postMessage(call, owner, room.id, 'three'),
    ];
    expect(await unread()).toBe(3);
    expect(await listed()).toBe(3);
    expect(await read(m[1]!.id)).toBe(1);
    expect(await unread()).toBe(1);
    expect(await listed()).toBe(1);
    // The marker never moves back.
    expect(await read(m[0]!.id)).toBe(1);
    expect(await unread()).toBe(1);
    const four = await postMessage(call, owner, room.id, 'four');
    expect(await unread()).toBe(2);
    expect(await read(four.id)).toBe(0);
    expect(await unread()).toBe(0);
    // Beyond the last message: everything is read, and later messages still count.
    expect(await read(MISSING_ID)).toBe(0);
    await postMessage(call, owner, room.id, 'five');
    expect(await unread()).toBe(1);
    // Sending reads the room for the sender.
    expectOk(
      'message:send',
      await emitAck(socket, 'message:send', { roomId: room.id, text: 'me', clientId: newClientId() }),
    );
    expect(await unread()).toBe(0);
    // The count is per user: the owner has not read "me".
    expect((await roomAs(call, owner, room.id)).unreadCount).toBe(1);
    // System messages and deleted messages are not unread.
    await joinRoom(call, third, room.id);
    expect(await unread()).toBe(0);
    const six = await postMessage(call, owner, room.id, 'six');
    expect(await unread()).toBe(1);
    expectStatusOf(await call('DELETE', `/api/messages/${six.id}`, { token: owner.accessToken }), 204);
    expect(await unread()).toBe(0);
  });
});
