import type { Message, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_NAMES_PER_MESSAGE } from '../../src/modules/messages/mentions.js';
import { uniqueName, type Call, type TestServer } from '../../src/test-support/server.js';
import { expectStatus } from '../helpers/http.js';
import {
  createRoom,
  expectOk,
  generalRoomId,
  joinRoom,
  postMessage,
  roomAs,
  roomWith,
  userIds,
} from '../helpers/realtime.js';
import { emitAck, type ClientSocket } from '../helpers/sockets.js';
import { startWorld, type World } from '../helpers/world.js';

/*
 * Hardening, issue 14 (mentions and notification levels; docs/SECURITY.md M1–M5), what mentions cost: a message
 * made of thousands of `@names` costs one bounded look-up (M1); `@room` is the owner's alone, and what it costs in
 * a room of 5,000 (M3). Who mentions reach (M2, M4) is mentions-reach.hardening.ts; M5 (notification levels) is
 * notifications.hardening.ts. Traffic to 127.0.0.1 only; every loop is bounded.
 */

let world: World;
let server: TestServer;
let call: Call;
/** owner owns the rooms; alice and bob are members where a test adds them; eve attacks. */
let owner: Session, alice: Session, bob: Session, eve: Session;
/** bob's fetches measure what the floods cost another user. */
let bobSocket: ClientSocket;
let generalId: string;

beforeAll(async () => {
  world = await startWorld();
  ({ server, call } = world);
  [owner, alice, bob, eve] = [
    await world.user('own'),
    await world.user('ali'),
    await world.user('bob'),
    await world.user('eve'),
  ];
  bobSocket = await world.connect(bob);
  generalId = await generalRoomId(call, owner);
});
afterAll(async () => {
  await world?.close();
});

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const ms = (n: number) => `${n.toFixed(1)} ms`;

/** Short distinct names: a, b, …, z, aa, ab, … */
function shortName(i: number): string {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(97 + ((n - 1) % 26)) + s;
  return s;
}

/** `@a @b @c …` up to `max` characters. */
function mentionFlood(max = 4000): { text: string; tokens: number } {
  let text = '';
  let tokens = 0;
  for (let i = 0; ; i++) {
    const next = `${text ? ' ' : ''}@${shortName(i)}`;
    if (text.length + next.length > max) return { text, tokens };
    text += next;
    tokens++;
  }
}

/**
 * The costliest `@names` for the parser: each token 64 characters (the longest still looked up) ending in 60 dots
 * and hyphens, each of which may be punctuation, so every token stands for dozens of candidate names. The first
 * token is `prefix`'s (a real member) with that tail.
 */
function punctuationFlood(prefix: string, salt = '', max = 4000): { text: string; tokens: number } {
  const tail = (name: string) => name + '.-'.repeat(40).slice(0, 64 - name.length);
  let text = `@${tail(prefix)}`;
  let tokens = 1;
  for (let i = 0; ; i++) {
    const next = ` @${tail(`z${salt}${i.toString(36)}`)}`;
    if (text.length + next.length > max) return { text, tokens };
    text += next;
    tokens++;
  }
}

interface Lookups {
  /** Queries that look names up (`"usernameKey" IN (…)`). */
  lookups: number;
  /** Names they look up, all told. */
  names: number;
  /** Characters of SQL they send. */
  sqlChars: number;
}

/** Counts the mention look-ups while `fn` runs (Sequelize's afterQuery hook sees every query). */
async function countLookups<T>(fn: () => Promise<T>): Promise<Lookups & { result: T }> {
  const seq = server.parley.ctx.db.sequelize;
  const c: Lookups = { lookups: 0, names: 0, sqlChars: 0 };
  seq.addHook('afterQuery', 'mentions-hardening', (_options, query) => {
    const sql = (query as { sql?: string }).sql ?? '';
    const list = /"usernameKey" IN \(([^)]*)\)/.exec(sql);
    if (!list) return;
    c.lookups++;
    // Names are [a-z0-9_.-]: the list is quoted names separated by commas.
    c.names += list[1]!.split(',').length;
    c.sqlChars += sql.length;
  });
  try {
    const result = await fn();
    return { ...c, result };
  } finally {
    seq.removeHook('afterQuery', 'mentions-hardening');
  }
}

async function timedPost(
  s: Session,
  roomId: string,
  text: string,
): Promise<{ ms: number; message: Message }> {
  const t0 = performance.now();
  const message = await postMessage(call, s, roomId, text);
  return { ms: performance.now() - t0, message };
}

describe('M1 a message of thousands of @names', () => {
  /** Names one message may have looked up: a name, or its punctuation-trimmed spellings, per token. */
  const NAME_BOUND = 2 * MAX_NAMES_PER_MESSAGE;

  it(`M1 4,000 characters of "@a @b @c …" or of 64-character "@name.-.-…" tokens: one look-up per send (none without @), at most ${2 * MAX_NAMES_PER_MESSAGE} names; 200 such sends (20 at once) leave another user's fetch fast`, async () => {
    const r = await roomWith(call, owner, 'public', eve, bob);
    const plain = 'x'.repeat(4000);
    const flood = mentionFlood();
    const dotted = punctuationFlood(bob.user.username);
    expect(flood.text.length).toBeLessThanOrEqual(4000);
    expect(dotted.text.length).toBeLessThanOrEqual(4000);
    expect(flood.tokens).toBeGreaterThan(900);

    // Each kind of text alone, 10 times (after a warm-up): time, look-ups, names looked up.
    await postMessage(call, eve, r.id, plain);
    const kinds = { plain, flood: flood.text, dotted: dotted.text };
    const timings: Record<string, number[]> = { plain: [], flood: [], dotted: [] };
    const costs: Record<string, Lookups> = {};
    for (let i = 0; i < 10; i++) {
      for (const [kind, text] of Object.entries(kinds)) {
        const c = await countLookups(() => timedPost(eve, r.id, text));
        timings[kind]!.push(c.result.ms);
        costs[kind] = c;
        if (kind === 'flood') expect(c.result.message.mentions).toEqual([]);
        // The longest candidate that is a member wins: bob, 60 characters of punctuation after his name.
        if (kind === 'dotted') expect(c.result.message.mentions).toEqual([bob.user.id]);
      }
    }

    // 200 sends of the worst text, each with its own names (so a batch shares none), 20 at once (the default
    // MESSAGE_BURST), while bob keeps fetching general's history; against 200 sends of 4,000 characters without @.
    const fetchOnce = async (into: number[]) => {
      const t0 = performance.now();
      expectOk(
        'messages:fetch',
        await emitAck(bobSocket, 'messages:fetch', { roomId: generalId, limit: 50 }),
      );
      into.push(performance.now() - t0);
    };
    const burstOf = async (texts: string[]) => {
      const during: number[] = [];
      let sending = true;
      const fetcher = (async () => {
        for (let i = 0; i < 5000 && sending; i++) await fetchOnce(during);
      })();
      const t0 = performance.now();
      const c = await countLookups(async () => {
        for (let round = 0; round < texts.length / 20; round++)
          await Promise.all(
            texts.slice(round * 20, round * 20 + 20).map((text) => postMessage(call, eve, r.id, text)),
          );
      });
      const took = performance.now() - t0;
      sending = false;
      await fetcher;
      return { ...c, took, p99: pct(during, 0.99), fetches: during.length };
    };
    const plainBurst = await burstOf(Array.from({ length: 200 }, (_, i) => `${i} `.padEnd(4000, 'x')));
    const dottedBurst = await burstOf(
      Array.from({ length: 200 }, (_, i) => punctuationFlood(bob.user.username, `${i.toString(36)}_`).text),
    );
    console.warn(
      `M1 figures: ${flood.tokens} tokens "@a @b …": median send ${ms(pct(timings.flood!, 0.5))}, ` +
        `${costs.flood!.lookups} look-up of ${costs.flood!.names} names (${costs.flood!.sqlChars} chars of SQL); ` +
        `${dotted.tokens} dotted 64-character tokens: median ${ms(pct(timings.dotted!, 0.5))}, ` +
        `${costs.dotted!.lookups} look-up of ${costs.dotted!.names} names (${costs.dotted!.sqlChars} chars); ` +
        `4,000 characters without @: median ${ms(pct(timings.plain!, 0.5))}. 200 sends 20 at once: dotted ` +
        `${Math.round(dottedBurst.took)} ms, ${dottedBurst.lookups} look-ups of ${dottedBurst.names} names ` +
        `(${Math.round(dottedBurst.sqlChars / 1024)} KiB of SQL), bob's fetch p99 ${ms(dottedBurst.p99)} ` +
        `(${dottedBurst.fetches} fetches); without @ ${Math.round(plainBurst.took)} ms, p99 ${ms(plainBurst.p99)}`,
    );
    // One look-up per send, never one per token; none for a text without `@`; a bounded number of names.
    expect(costs.plain!.lookups).toBe(0);
    for (const kind of ['flood', 'dotted']) {
      expect(costs[kind]!.lookups, kind).toBe(1);
      expect(costs[kind]!.names, kind).toBeLessThanOrEqual(NAME_BOUND);
    }
    // Group commit shares look-ups; none is per token, and none looks up more names than its messages allow.
    expect(dottedBurst.lookups).toBeLessThanOrEqual(200);
    expect(dottedBurst.names).toBeLessThanOrEqual(200 * NAME_BOUND);
    // The mentions cost little next to the messages themselves: the burst takes at most twice as long as the
    // same burst without @, and bob's fetch (which waits for the writes on SQLite) does not suffer more than that.
    expect(dottedBurst.took).toBeLessThan(2 * plainBurst.took);
    expect(dottedBurst.p99).toBeLessThan(2 * plainBurst.p99 + 50);
  });
});

describe('M3 @room', () => {
  it('M3 @room names nobody from a non-owner (new, edited, in general, in a DM); from the owner it names the members, and what that costs in a room of 5,000', async () => {
    const r = await roomWith(call, owner, 'public', alice, bob);
    const byMember = await postMessage(call, alice, r.id, '@room look');
    expect(byMember.mentions).toEqual([]);
    const editedIn = await call('PATCH', `/api/messages/${byMember.id}`, {
      token: alice.accessToken,
      body: { text: 'edited: @room @ROOM @room.' },
    });
    expectStatus(editedIn, 200);
    expect(editedIn.body.mentions).toEqual([]);
    // general has no owner: nobody may call everyone there.
    const inGeneral = await postMessage(call, alice, generalId, '@room everyone!');
    expect(inGeneral.mentions).toEqual([]);
    expect((await postMessage(call, owner, generalId, '@room everyone!')).mentions).toEqual([]);
    const dm = await call('POST', '/api/dms', { token: alice.accessToken, body: { userId: bob.user.id } });
    expect((await postMessage(call, alice, dm.body.id, '@room')).mentions).toEqual([]);
    for (const s of [bob, owner]) {
      expect((await roomAs(call, s, r.id)).mentionCount).toBe(0);
      expect((await roomAs(call, s, generalId)).mentionCount).toBe(0);
    }
    // The owner's @room names every member (the author's own count stays 0).
    const all = await postMessage(call, owner, r.id, '@room now');
    expect(all.mentions).toEqual(userIds(owner, alice, bob));
    expect((await roomAs(call, bob, r.id)).mentionCount).toBe(1);

    // A room of 5,000 members (the contract's large room; 4,998 of them written straight into the database, as
    // joining through the API is not what is measured): what the owner's @room costs against the same text without.
    const SIZE = 5000;
    const big = await createRoom(call, owner, 'public');
    const member = (await call<Session>('POST', '/api/auth/guest', { body: { username: uniqueName('g') } }))
      .body;
    await joinRoom(call, member, big.id);
    const { models } = server.parley.ctx;
    const salt = uniqueName('s');
    const seeded = await models.User.bulkCreate(
      Array.from({ length: SIZE - 2 }, (_, i) => ({
        username: `${salt}m${i}`,
        usernameKey: `${salt}m${i}`,
        usernameSkeleton: `~${salt}m${i}`,
        displayName: `${salt} ${i}`,
        isGuest: true,
        email: null,
        passwordHash: null,
        avatarAttachmentId: null,
        lastSeenAt: null,
        releasedAt: null,
      })),
    );
    await models.Membership.bulkCreate(
      seeded.map((u) => ({
        roomId: Number(big.id),
        userId: u.id,
        role: 'member' as const,
        joinedAt: new Date(),
        lastReadMessageId: 0,
      })),
    );
    await models.Room.update({ memberCount: SIZE }, { where: { id: Number(big.id) } });
    expect((await roomAs(call, owner, big.id)).memberCount).toBe(SIZE);
    // A member's @room in the big room names nobody (sent first: one's own message marks the room read).
    expect((await postMessage(call, member, big.id, '@room')).mentions).toEqual([]);
    const plainTimes: number[] = [];
    const roomTimes: number[] = [];
    let bytes = 0;
    let plainBytes = 0;
    for (let i = 0; i < 10; i++) {
      const plain = await timedPost(owner, big.id, 'meeting now');
      plainTimes.push(plain.ms);
      plainBytes = JSON.stringify(plain.message).length;
      const sentAll = await timedPost(owner, big.id, '@room meeting now');
      roomTimes.push(sentAll.ms);
      expect(sentAll.message.mentions).toHaveLength(SIZE);
      bytes = JSON.stringify(sentAll.message).length;
    }
    const t0 = performance.now();
    const counted = await roomAs(call, member, big.id);
    const countMs = performance.now() - t0;
    expect(counted).toMatchObject({ unreadCount: 20, mentionCount: 10 });
    console.warn(
      `M3 figures: non-owner @room (new, edited, general, DM): 0 mentioned. Owner's @room in a room of ${SIZE}: ` +
        `median send ${ms(pct(roomTimes, 0.5))} against ${ms(pct(plainTimes, 0.5))} without; the message is ${bytes} ` +
        `bytes of JSON against ${plainBytes}, sent to each member; a member's room with 20 unread (10 @room) read in ` +
        `${ms(countMs)}`,
    );
    expect(pct(roomTimes, 0.5)).toBeLessThan(pct(plainTimes, 0.5) + 250);
  }, 120_000);
});
