import type { Ack, ClientAckData, Message, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Call } from '../src/test-support/server.js';
import {
  byId,
  createRoom,
  expectFail,
  expectOk,
  fullHistory,
  MISSING_ID,
  newClientId,
} from './helpers/realtime.js';
import { emitAck, received, waitFor, type ClientSocket } from './helpers/sockets.js';
import { startWorld, type World } from './helpers/world.js';

/*
 * Group commit (messages/send.ts): sends that arrive while a transaction is written share the next one. Each
 * send is still answered for itself: refused sends (not a member, invisible or missing room, clientId of another
 * room) do not fail the batch they arrived with; two copies of one clientId store one message; every acked message
 * is stored exactly once, in each sender's order, and broadcast in id order. On SQLite and PostgreSQL alike.
 */

let world: World;
let call: Call;

beforeAll(async () => {
  world = await startWorld();
  call = world.call;
});

afterAll(() => world?.close());

type SendAck = Ack<ClientAckData['message:send']>;

describe('group commit', () => {
  it(
    'a burst from many sockets: valid sends stored once in order, refused and duplicated ones answered alone',
    {
      timeout: 60_000,
    },
    async () => {
      const SENDERS = 6;
      const PER_SENDER = 30;
      const owner = await world.user('gcown');
      const senders: Session[] = [];
      for (let k = 0; k < SENDERS; k++) senders.push(await world.user('gc'));
      const room = await world.room(owner, senders);
      const privateRoom = await createRoom(call, owner, 'private');
      const otherRoom = await world.room(owner, senders);
      const outsider = await world.user('gcout');
      const sockets = await Promise.all(senders.map((s) => world.connect(s)));
      const ownerSocket = await world.connect(owner);
      const outsiderSocket = await world.connect(outsider);
      // A clientId already used in another room, and one already used in this room (a replay).
      const usedElsewhere = newClientId();
      const elsewhere = expectOk(
        'message:send',
        await emitAck(sockets[0]!, 'message:send', {
          roomId: otherRoom.id,
          text: 'elsewhere',
          clientId: usedElsewhere,
        }),
      ).message;
      const usedHere = newClientId();
      const earlier = expectOk(
        'message:send',
        await emitAck(sockets[1]!, 'message:send', { roomId: room.id, text: 'earlier', clientId: usedHere }),
      ).message;

      // Nobody waits for an ack before sending the next one, so the sends pile up into shared transactions.
      const valid: { k: number; text: string; ack: Promise<SendAck> }[] = [];
      const refused: { code: string; ack: Promise<SendAck> }[] = [];
      const copies: Promise<SendAck>[][] = [];
      const send = (socket: ClientSocket, roomId: string, text: string, clientId = newClientId()) =>
        emitAck(socket, 'message:send', { roomId, text, clientId }, 30_000);
      for (let i = 0; i < PER_SENDER; i++) {
        sockets.forEach((socket, k) => {
          const text = `gc ${k}.${i}`;
          valid.push({ k, text, ack: send(socket, room.id, text) });
        });
        if (i % 5 === 0) {
          refused.push({ code: 'FORBIDDEN', ack: send(outsiderSocket, room.id, 'not a member') });
          refused.push({ code: 'NOT_FOUND', ack: send(outsiderSocket, privateRoom.id, 'cannot see it') });
          refused.push({ code: 'NOT_FOUND', ack: send(sockets[2]!, MISSING_ID, 'no such room') });
          refused.push({ code: 'CONFLICT', ack: send(sockets[0]!, room.id, 'reused', usedElsewhere) });
        }
        if (i % 10 === 3) {
          // Two copies of one send, back to back on one socket and from a second socket of the owner.
          const clientId = newClientId();
          copies.push([
            send(sockets[3]!, room.id, `copy ${i}`, clientId),
            send(sockets[3]!, room.id, `copy ${i}`, clientId),
          ]);
          const ownerId = newClientId();
          copies.push([
            send(ownerSocket, room.id, `owner copy ${i}`, ownerId),
            send(ownerSocket, room.id, `owner copy ${i}`, ownerId),
          ]);
        }
      }
      const replay = send(sockets[1]!, room.id, 'earlier', usedHere);

      const acked = await Promise.all(
        valid.map(async (v) => ({ ...v, message: expectOk('message:send', await v.ack).message })),
      );
      for (const r of refused) expectFail(await r.ack, r.code);
      const copied: Message[] = [];
      for (const pair of copies) {
        const [a, b] = (await Promise.all(pair)).map((res) => expectOk('message:send', res).message);
        expect(b!.id, 'both copies answer the one stored message').toBe(a!.id);
        copied.push(a!);
      }
      expect(expectOk('message:send', await replay).message).toEqual(earlier);

      // History: every acked message exactly once; each sender's in the order it sent them.
      const expected = [earlier, ...acked.map((a) => a.message), ...copied].sort(byId);
      const history = (await fullHistory(call, owner, room.id)).filter((m) => m.kind === 'text');
      expect(history.map((m) => m.id)).toEqual(expected.map((m) => m.id));
      for (let k = 0; k < SENDERS; k++) {
        const mine = history.filter((m) => m.author!.id === senders[k]!.user.id && m.text.startsWith('gc '));
        expect(mine.map((m) => m.text)).toEqual(Array.from({ length: PER_SENDER }, (_, i) => `gc ${k}.${i}`));
      }
      expect(history.some((m) => m.text === 'reused' || m.text === 'not a member')).toBe(false);
      const elsewhereHistory = await fullHistory(call, owner, otherRoom.id);
      expect(elsewhereHistory.filter((m) => m.clientId === usedElsewhere).map((m) => m.id)).toEqual([
        elsewhere.id,
      ]);

      // The burst really shared transactions: one batch stamps its messages with one time, across senders.
      const authorsByTime = new Map<string, Set<string>>();
      for (const m of history) {
        const set = authorsByTime.get(m.createdAt) ?? new Set<string>();
        set.add(m.author!.id);
        authorsByTime.set(m.createdAt, set);
      }
      expect(Math.max(...[...authorsByTime.values()].map((s) => s.size))).toBeGreaterThan(1);

      // Every member socket heard each stored message once, in id order.
      const newOnes = new Set(expected.filter((m) => m.id !== earlier.id).map((m) => m.id));
      for (const socket of [...sockets, ownerSocket]) {
        const isNew = (m: Message) => newOnes.has(m.id);
        await waitFor(
          () => received(socket, 'message:new', isNew).length >= newOnes.size,
          'the burst to arrive',
          30_000,
        );
        const got = received(socket, 'message:new', isNew);
        expect(got.map((m) => m.id)).toEqual([...newOnes]);
      }
      expect(received(outsiderSocket, 'message:new', (m: Message) => m.roomId === room.id)).toHaveLength(0);
    },
  );

  it('REST and socket sends of one clientId in the same burst store one message', async () => {
    const owner = await world.user('gcrest');
    const room = await world.room(owner);
    const socket = await world.connect(owner);
    const clientId = newClientId();
    const [viaSocket, viaRest] = await Promise.all([
      emitAck(socket, 'message:send', { roomId: room.id, text: 'both ways', clientId }),
      call('POST', `/api/chatrooms/${room.id}/messages`, {
        token: owner.accessToken,
        body: { text: 'both ways', clientId },
      }),
    ]);
    const id = expectOk('message:send', viaSocket).message.id;
    expect([200, 201]).toContain(viaRest.status);
    expect(viaRest.body.id).toBe(id);
    const stored = (await fullHistory(call, owner, room.id)).filter((m) => m.clientId === clientId);
    expect(stored.map((m) => m.id)).toEqual([id]);
  });

  it('texts that look like SQL placeholders or quoting are stored exactly, in a batch of many rows', async () => {
    // The batch's values are escaped into one INSERT (messages/repo.ts): a placeholder-like text must not be read
    // as one, nor a quote end the literal; both databases.
    const tricky = [
      "it's a '' quote",
      'a ? and ?? and $1 and $12 and :at and :name and $name',
      "back\\slash \\n and \\' mixed",
      '-- not a comment; DROP TABLE messages; /* nor this */',
      'emoji 👍🏽 and “typographic” quotes, ‘single’ too, and NUL-free \u2028 separators',
      '`backticks` and "double quotes" and $$dollar$$ quoting',
    ];
    const owner = await world.user('gcsql');
    const room = await world.room(owner);
    const socket = await world.connect(owner);
    const texts = Array.from({ length: 60 }, (_, i) => `${tricky[i % tricky.length]} #${i}`);
    // Sent at once, so that they share transactions (several rows per INSERT).
    const acks = await Promise.all(
      texts.map((text) =>
        emitAck(socket, 'message:send', { roomId: room.id, text, clientId: newClientId() }),
      ),
    );
    const ids = acks.map((a) => expectOk('message:send', a).message.id);
    const stored = new Map((await fullHistory(call, owner, room.id)).map((m) => [m.id, m]));
    expect(ids.map((id) => stored.get(id)?.text)).toEqual(texts);
    expect(acks.map((a) => expectOk('message:send', a).message.text)).toEqual(texts);
  });
});
