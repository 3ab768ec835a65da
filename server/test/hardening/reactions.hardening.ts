import type { Message, Reaction, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../../src/test-support/server.js';
import {
  connectReady,
  createRoom,
  fullHistory,
  joinRoom,
  messageMarker,
  newClientId,
  postMessage,
} from '../helpers/realtime.js';
import { closeAllSockets, emitAck, nextEvent, type ClientSocket } from '../helpers/sockets.js';

/*
 * Hardening (docs/SECURITY.md, "Issue 16: reactions and replies", R1–R5): reactions raced with each other and
 * with a delete, and a reply raced with its parent's delete. The message_reactions table is the truth; the
 * summary column each read shows must equal it, and what the room hears must end where the data ends. Runs on
 * the run's database (SQLite, or PostgreSQL with TEST_DATABASE_URL). Traffic to 127.0.0.1 only; bounded rounds.
 */

let server: TestServer;
let call: Call;
let owner: Session;
let ownerSocket: ClientSocket;
/** Users with a socket each, members of every room made here. */
let crowd: { s: Session; socket: ClientSocket }[];

/** What the observer (the owner's socket) heard, in order. */
const heard: { event: string; id: string; payload: any }[] = [];

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  owner = await register(call, uniqueName('own'));
  ownerSocket = await connectReady(server, owner);
  ownerSocket.onAny((event: string, p: any) => {
    if (event === 'message:updated' || event === 'message:deleted' || event === 'message:new')
      heard.push({ event, id: String(p.id), payload: p });
    if (event === 'messages:new')
      for (const m of p.messages) heard.push({ event: 'message:new', id: m.id, payload: m });
  });
  crowd = [];
  for (let i = 0; i < 20; i++) {
    const s = await register(call, uniqueName(`u${i}`));
    crowd.push({ s, socket: await connectReady(server, s) });
  }
});
afterAll(async () => {
  closeAllSockets();
  await server?.close();
});

async function roomWithCrowd() {
  const room = await createRoom(call, owner, 'public');
  for (const { s } of crowd) await joinRoom(call, s, room.id);
  return room;
}

/** The truth of a message's reactions, from the table, summarised as the contract says. */
async function truth(messageId: string): Promise<{ rows: number; summary: Reaction[]; column: string }> {
  const q = (sql: string) =>
    server.parley.ctx.db.sequelize
      .query(sql, { replacements: { id: Number(messageId) } })
      .then(([rows]) => rows as any[]);
  const rows = await q('SELECT "userId", emoji FROM message_reactions WHERE "messageId" = :id ORDER BY id');
  const byEmoji = new Map<string, Reaction>();
  for (const r of rows) {
    const e: Reaction = byEmoji.get(r.emoji) ?? { emoji: r.emoji, count: 0, userIds: [] };
    e.count++;
    if (e.userIds.length < 50) e.userIds.push(String(r.userId));
    byEmoji.set(r.emoji, e);
  }
  const [column] = await q('SELECT reactions FROM messages WHERE id = :id');
  return { rows: rows.length, summary: [...byEmoji.values()], column: column.reactions };
}

const stored = async (roomId: string, id: string) =>
  (await fullHistory(call, owner, roomId)).find((m) => m.id === id)!;

/** Adds or removes over REST or the socket (by `i`'s parity), answering the status or the error code. */
function react(i: number, who: { s: Session; socket: ClientSocket }, m: Message, emoji: string, on: boolean) {
  if (i % 2) {
    const event = on ? 'reaction:add' : 'reaction:remove';
    return emitAck(who.socket, event, { messageId: m.id, emoji }).then((a) => (a.ok ? 200 : a.error.code));
  }
  const path = `/api/messages/${m.id}/reactions`;
  const res = on
    ? call('POST', path, { token: who.s.accessToken, body: { emoji } })
    : call('DELETE', `${path}/${encodeURIComponent(emoji)}`, { token: who.s.accessToken });
  return res.then((r) => (r.status === 200 ? 200 : r.body.error.code));
}

/** Waits until the observer has heard everything the room was told before now. */
async function settle(roomId: string) {
  const marker = await messageMarker(call, owner, roomId);
  await nextEvent(ownerSocket, marker.name, marker.where);
}

const lastUpdateOf = (id: string) => heard.filter((h) => h.id === id && h.event === 'message:updated').at(-1);

const EMOJI = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗🤔🤨😐😑😶🙄😏😣😥😮'];

describe('R reactions raced', () => {
  it('R1 ten users add the same emoji at once (10 rounds): the count is exactly 10, and the summary is the table', async () => {
    const room = await roomWithCrowd();
    const wrong: string[] = [];
    for (let round = 0; round < 10; round++) {
      const m = await postMessage(call, owner, room.id, `same emoji r${round}`);
      const answers = await Promise.all(crowd.slice(0, 10).map((u, i) => react(i + round, u, m, '👍', true)));
      expect(
        answers.every((a) => a === 200),
        JSON.stringify(answers),
      ).toBe(true);
      await settle(room.id);
      const t = await truth(m.id);
      const shown = (await stored(room.id, m.id)).reactions;
      if (
        t.rows !== 10 ||
        shown.length !== 1 ||
        shown[0]!.count !== 10 ||
        new Set(shown[0]!.userIds).size !== 10
      )
        wrong.push(`round ${round}: ${t.rows} rows, shown ${JSON.stringify(shown)}`);
      if (JSON.stringify(shown) !== JSON.stringify(t.summary) || t.column !== JSON.stringify(t.summary))
        wrong.push(`round ${round}: summary ${t.column} is not the table's ${JSON.stringify(t.summary)}`);
      // The last thing the room heard of it is what is stored.
      if (JSON.stringify(lastUpdateOf(m.id)?.payload) !== JSON.stringify(await stored(room.id, m.id)))
        wrong.push(`round ${round}: the last message:updated is not the stored message`);
    }
    expect(wrong).toEqual([]);
  });

  it('R2 20 sockets each add a different new emoji at once to a message with 10 (3 rounds): exactly 10 get in, never more than 20 stored', async () => {
    const room = await roomWithCrowd();
    const wrong: string[] = [];
    for (let round = 0; round < 3; round++) {
      const m = await postMessage(call, owner, room.id, `twenty r${round}`);
      for (const e of EMOJI.slice(0, 10))
        expect(
          (
            await call('POST', `/api/messages/${m.id}/reactions`, {
              token: owner.accessToken,
              body: { emoji: e },
            })
          ).status,
        ).toBe(200);
      const answers = await Promise.all(
        crowd.map((u, i) =>
          emitAck(u.socket, 'reaction:add', { messageId: m.id, emoji: EMOJI[10 + i]! }).then((a) =>
            a.ok ? 200 : a.error.code,
          ),
        ),
      );
      const ok = answers.filter((a) => a === 200).length;
      const refused = answers.filter((a) => a === 'VALIDATION_ERROR').length;
      const t = await truth(m.id);
      if (ok !== 10 || refused !== 10) wrong.push(`round ${round}: ${ok} added, ${refused} refused`);
      if (t.summary.length !== 20 || t.rows !== 20)
        wrong.push(`round ${round}: ${t.summary.length} emoji stored`);
      if (t.column !== JSON.stringify(t.summary)) wrong.push(`round ${round}: summary is not the table`);
    }
    expect(wrong).toEqual([]);
  });

  it('R3 add and remove toggled concurrently 50 times by 5 users (3 rounds): the summary equals the table, and the room last heard the stored state', async () => {
    const room = await roomWithCrowd();
    const wrong: string[] = [];
    for (let round = 0; round < 3; round++) {
      const m = await postMessage(call, owner, room.id, `toggle r${round}`);
      const ops = Array.from({ length: 50 }, (_, i) => {
        const u = crowd[i % 5]!;
        return react(i, u, m, i % 3 ? '🎉' : '👍', Math.floor(i / 5) % 2 === 0);
      });
      const answers = await Promise.all(ops);
      expect(
        answers.every((a) => a === 200),
        JSON.stringify(answers),
      ).toBe(true);
      await settle(room.id);
      const t = await truth(m.id);
      const shown = await stored(room.id, m.id);
      if (t.column !== (t.summary.length ? JSON.stringify(t.summary) : ''))
        wrong.push(`round ${round}: column ${t.column} vs table ${JSON.stringify(t.summary)}`);
      if (JSON.stringify(shown.reactions) !== JSON.stringify(t.summary))
        wrong.push(`round ${round}: history shows ${JSON.stringify(shown.reactions)}`);
      const last = lastUpdateOf(m.id)?.payload;
      if (JSON.stringify(last) !== JSON.stringify(shown))
        wrong.push(
          `round ${round}: last heard ${JSON.stringify(last?.reactions)}, stored ${JSON.stringify(shown.reactions)}`,
        );
    }
    expect(wrong).toEqual([]);
  });

  it('R4 a reaction raced with a delete (30 rounds): the message stays deleted with none, and no reaction is heard after message:deleted', async () => {
    const room = await roomWithCrowd();
    const [author, reactor] = [crowd[0]!, crowd[1]!];
    const wrong: string[] = [];
    const tally = { reacted: 0, refused: 0 };
    for (let round = 0; round < 30; round++) {
      const m = await postMessage(call, author.s, room.id, `race r${round}`);
      const del =
        round % 2
          ? call('DELETE', `/api/messages/${m.id}`, { token: author.s.accessToken }).then((r) => r.status)
          : emitAck(author.socket, 'message:delete', { messageId: m.id }).then((a) =>
              a.ok ? 204 : a.error.code,
            );
      const [reacted, deleted] = await Promise.all([react(round, reactor, m, '🔥', true), del]);
      expect(deleted).toBe(204);
      expect([200, 'NOT_FOUND']).toContain(reacted);
      if (reacted === 200) tally.reacted++;
      else tally.refused++;
      await settle(room.id);
      const t = await truth(m.id);
      const shown = await stored(room.id, m.id);
      if (!shown.deleted || shown.reactions.length || t.rows || t.column !== '')
        wrong.push(`round ${round}: stored ${JSON.stringify(shown)}, ${t.rows} rows, column ${t.column}`);
      const mine = heard.filter((h) => h.id === m.id);
      const at = mine.findIndex((h) => h.event === 'message:deleted');
      if (at < 0) wrong.push(`round ${round}: no message:deleted`);
      if (mine.slice(at + 1).some((h) => h.event === 'message:updated'))
        wrong.push(`round ${round}: message:updated after message:deleted`);
    }
    console.error(
      `R4 figures: 30 rounds, the reaction got in first ${tally.reacted} times, refused ${tally.refused}; ${wrong.length} wrong`,
    );
    expect(wrong).toEqual([]);
  });

  it('R5 a reply raced with its parent’s delete (30 rounds): once the room hears the parent deleted, no reply quotes its text', async () => {
    const room = await roomWithCrowd();
    const [author, replier] = [crowd[2]!, crowd[3]!];
    const wrong: string[] = [];
    const tally = { quoted: 0, deletedQuote: 0 };
    for (let round = 0; round < 30; round++) {
      const parent = await postMessage(call, author.s, room.id, `parent r${round}`);
      const clientId = newClientId();
      const reply =
        round % 2
          ? emitAck(replier.socket, 'message:send', {
              roomId: room.id,
              text: `reply r${round}`,
              clientId,
              replyToId: parent.id,
            }).then((a) => (a.ok ? a.data.message : a.error.code))
          : call('POST', `/api/chatrooms/${room.id}/messages`, {
              token: replier.s.accessToken,
              body: { text: `reply r${round}`, clientId, replyToId: parent.id },
            }).then((r) => (r.status === 201 ? (r.body as Message) : r.body.error.code));
      const del =
        round % 2
          ? call('DELETE', `/api/messages/${parent.id}`, { token: author.s.accessToken }).then(
              (r) => r.status,
            )
          : emitAck(author.socket, 'message:delete', { messageId: parent.id }).then((a) =>
              a.ok ? 204 : a.error.code,
            );
      const [r, deleted] = await Promise.all([reply, del]);
      expect(deleted).toBe(204);
      if (typeof r === 'string') {
        wrong.push(`round ${round}: the reply was refused: ${r}`);
        continue;
      }
      if (r.replyTo?.deleted) tally.deletedQuote++;
      else tally.quoted++;
      await settle(room.id);
      const shown = await stored(room.id, r.id);
      if (!shown.replyTo || !shown.replyTo.deleted || shown.replyTo.text !== '')
        wrong.push(`round ${round}: stored reply quotes ${JSON.stringify(shown.replyTo)}`);
      // In the order the room heard it: after the parent's message:deleted, the reply never shows its text.
      const events = heard.filter((h) => h.id === parent.id || h.id === r.id);
      const at = events.findIndex((h) => h.id === parent.id && h.event === 'message:deleted');
      if (at < 0) wrong.push(`round ${round}: no message:deleted`);
      const late = events.slice(at + 1).filter((h) => h.id === r.id && !h.payload.replyTo?.deleted);
      if (late.length)
        wrong.push(`round ${round}: heard the reply quoting a deleted parent after its delete`);
      const lastOfReply = events.filter((h) => h.id === r.id).at(-1)?.payload;
      if (JSON.stringify(lastOfReply) !== JSON.stringify(shown))
        wrong.push(`round ${round}: the last thing heard of the reply is not the stored reply`);
    }
    console.error(
      `R5 figures: 30 rounds, the reply quoted the live parent ${tally.quoted} times, the deleted one ${tally.deletedQuote}; ${wrong.length} wrong`,
    );
    expect(wrong).toEqual([]);
  });
});
