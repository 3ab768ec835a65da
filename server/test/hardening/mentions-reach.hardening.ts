import type { Message, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Call } from '../../src/test-support/server.js';
import { expectStatus } from '../helpers/http.js';
import {
  expectNoneBy,
  expectOk,
  fullHistory,
  generalRoomId,
  listedRooms,
  messageMarker,
  postMessage,
  roomAs,
  roomWith,
  userIds,
} from '../helpers/realtime.js';
import { emitAck, nextEvent, received, type ClientSocket } from '../helpers/sockets.js';
import { startWorld, type World } from '../helpers/world.js';

/*
 * Hardening, issue 14 (mentions and notification levels; docs/SECURITY.md M1–M5), who mentions reach: they never
 * name, count or notify anyone outside the room (M2); racing edits keep `mentions` and `mentionCount` true to the
 * stored text (M4). What mentions cost (M1, M3) is mentions-cost.hardening.ts; M5 (notification levels) is
 * notifications.hardening.ts. Traffic to 127.0.0.1 only; every loop is bounded.
 */

let world: World;
let call: Call;
/** owner owns the rooms; alice and bob are members where a test adds them; carol is an outsider; eve attacks. */
let owner: Session, alice: Session, bob: Session, carol: Session, eve: Session;
let bobSocket: ClientSocket, carolSocket: ClientSocket, aliceSocket: ClientSocket;
let generalId: string;

beforeAll(async () => {
  world = await startWorld();
  ({ call } = world);
  [owner, alice, bob, carol, eve] = [
    await world.user('own'),
    await world.user('ali'),
    await world.user('bob'),
    await world.user('car'),
    await world.user('eve'),
  ];
  [aliceSocket, bobSocket, carolSocket] = [
    await world.connect(alice),
    await world.connect(bob),
    await world.connect(carol),
  ];
  generalId = await generalRoomId(call, owner);
});
afterAll(async () => {
  await world?.close();
});

describe('M2 mentions never reach outside the room', () => {
  it('M2 non-members named in a private room, a public room, a DM, by an edit, or by @room are not in mentions, get no mentionCount and no event', async () => {
    // carol and bob are outsiders of the private room; bob left it after being in it.
    const priv = await roomWith(call, owner, 'private', alice, bob);
    expectStatus(
      await call('DELETE', `/api/chatrooms/${priv.id}/members/${bob.user.id}`, { token: bob.accessToken }),
      204,
    );
    const pub = await roomWith(call, owner, 'public', alice);
    const dm = await call('POST', '/api/dms', { token: alice.accessToken, body: { userId: owner.user.id } });
    expectStatus(dm, 200);
    const names = `@${carol.user.username} @${bob.user.username} @${eve.user.username}`;
    const countsBefore = new Map<string, number>();
    for (const s of [carol, bob])
      for (const x of await listedRooms(call, s)) countsBefore.set(`${s.user.id}:${x.id}`, x.mentionCount);
    const sent: Message[] = [
      await postMessage(call, alice, priv.id, `secret for ${names} and @${owner.user.username}`),
      await postMessage(call, owner, priv.id, `@room only, not ${names}`),
      await postMessage(call, alice, pub.id, `public ${names}`),
      await postMessage(call, alice, dm.body.id, `dm ${names}`),
    ];
    const edited = await postMessage(call, alice, priv.id, 'plain at first');
    const res = await call('PATCH', `/api/messages/${edited.id}`, {
      token: alice.accessToken,
      body: { text: `now ${names}` },
    });
    expectStatus(res, 200);
    sent.push(res.body as Message);
    const outsiders = userIds(carol, bob, eve);
    expect(sent.map((m) => m.mentions)).toEqual([[owner.user.id], userIds(owner, alice), [], [], []]);
    // Stored so: history agrees, for a member who reads it.
    const stored = [
      ...(await fullHistory(call, alice, priv.id)),
      ...(await fullHistory(call, alice, pub.id)),
    ];
    for (const m of stored) for (const id of outsiders) expect(m.mentions).not.toContain(id);
    // No event reached an outsider (a marker in general proves delivery), and no room of theirs counts a mention.
    for (const [s, socket] of [
      [carol, carolSocket],
      [bob, bobSocket],
    ] as const) {
      await expectNoneBy(socket, await messageMarker(call, owner, generalId), [
        ['message:new', (m: Message) => sent.some((x) => x.id === m.id)],
        ['message:updated', (m: Message) => m.id === edited.id],
      ]);
      const rooms = await listedRooms(call, s);
      const grew = rooms.filter((x) => x.mentionCount > (countsBefore.get(`${s.user.id}:${x.id}`) ?? 0));
      expect(grew.map((x) => x.name)).toEqual([]);
      expect(rooms.map((x) => x.id)).not.toContain(priv.id);
      // The public room is readable by anyone: it counts no mention for a non-member either.
      expect((await roomAs(call, s, pub.id)).mentionCount).toBe(0);
    }
    console.warn(
      `M2 figures: 5 messages naming 3 outsiders (private room, @room, public room, DM, edit): 0 outsider ids in ` +
        `mentions, 0 events, 0 mentionCount`,
    );
  });
});

describe('M4 edits keep mentions and mentionCount true', () => {
  it('M4 two edits raced 30 times (REST and socket, adding and removing a mention): stored mentions match the stored text, mentionCount is 0 or 1, the last message:updated is the stored message', async () => {
    const r = await roomWith(call, owner, 'public', alice, bob);
    const me = `@${bob.user.username}`;
    const m = await postMessage(call, alice, r.id, 'start');
    const pairs: [string, string][] = [
      [`${me} added`, 'removed'],
      [`${me} one`, `${me} two`],
      ['none', 'nothing'],
      [`first ${me}`, `@${owner.user.username} instead`],
    ];
    const viaSocket = async (text: string) => {
      const ack = await emitAck(aliceSocket, 'message:edit', { messageId: m.id, text });
      return expectOk('message:edit', ack).message;
    };
    const viaRest = async (text: string) => {
      const res = await call('PATCH', `/api/messages/${m.id}`, { token: alice.accessToken, body: { text } });
      expectStatus(res, 200);
      return res.body as Message;
    };
    const wrong: string[] = [];
    for (let round = 0; round < 30; round++) {
      const [a, b] = pairs[round % pairs.length]!;
      const mark = ` r${round}`;
      await Promise.all([
        round % 2 ? viaSocket(a + mark) : viaRest(a + mark),
        round % 2 ? viaRest(b + mark) : viaSocket(b + mark),
      ]);
      const stored = (await fullHistory(call, bob, r.id)).find((x) => x.id === m.id)!;
      const mentionsBob = stored.text.includes(me);
      const want = userIds(
        ...(mentionsBob ? [bob] : []),
        ...(stored.text.includes(`@${owner.user.username}`) ? [owner] : []),
      );
      if (JSON.stringify(stored.mentions) !== JSON.stringify(want))
        wrong.push(
          `round ${round}: "${stored.text}" stored with mentions ${JSON.stringify(stored.mentions)}`,
        );
      const count = (await roomAs(call, bob, r.id)).mentionCount;
      if (count !== (mentionsBob ? 1 : 0))
        wrong.push(`round ${round}: "${stored.text}" but mentionCount ${count}`);
      // What bob's client shows: the last update it got for the message is what was stored.
      const marker = await postMessage(call, owner, r.id, `marker${mark}`);
      await nextEvent(bobSocket, 'message:new', (x) => x.id === marker.id);
      const updates = received(bobSocket, 'message:updated', (x) => x.id === m.id && x.text.endsWith(mark));
      const last = updates[updates.length - 1];
      if (
        updates.length !== 2 ||
        last?.text !== stored.text ||
        JSON.stringify(last.mentions) !== JSON.stringify(stored.mentions)
      )
        wrong.push(
          `round ${round}: bob got ${updates.length} updates, last "${last?.text}", stored "${stored.text}"`,
        );
      await call('DELETE', `/api/messages/${marker.id}`, { token: owner.accessToken });
    }
    console.warn(`M4 figures: 30 raced pairs of edits, ${wrong.length} inconsistent`);
    expect(wrong).toEqual([]);
  });
});
