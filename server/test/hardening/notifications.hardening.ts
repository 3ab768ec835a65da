import type { Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type Res,
  type TestServer,
} from '../../src/test-support/server.js';
import { expectError, expectStatus, MISSING_ID } from '../helpers/http.js';
import { generalRoomId, listedRooms, roomAs, roomWith } from '../helpers/realtime.js';

/*
 * Hardening, issue 14 (docs/SECURITY.md M5): PUT /api/chatrooms/:id/notifications raced with itself, with a leave
 * and with a kick, fed hostile values, or aimed at someone else's room changes nothing it should not. Mentions
 * themselves are mentions-cost.hardening.ts (M1, M3) and mentions-reach.hardening.ts (M2, M4). Traffic to
 * 127.0.0.1 only; every loop is bounded.
 */

let server: TestServer;
let call: Call;
/** owner owns the rooms; alice and bob are members where a test adds them; carol is an outsider. */
let owner: Session, alice: Session, bob: Session, carol: Session;
let generalId: string;

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  [owner, alice, bob, carol] = [
    await register(call, uniqueName('own')),
    await register(call, uniqueName('ali')),
    await register(call, uniqueName('bob')),
    await register(call, uniqueName('car')),
  ];
  generalId = await generalRoomId(call, owner);
});
afterAll(async () => {
  await server?.close();
});

describe('M5 PUT /api/chatrooms/:id/notifications', () => {
  const put = (s: Session, roomId: string, body: unknown) =>
    call('PUT', `/api/chatrooms/${roomId}/notifications`, { token: s.accessToken, body });

  it('M5 raced with itself, with a leave and with a kick it never makes a member; hostile values are 400; others’ rooms 404/403 and unchanged', async () => {
    const levels = ['all', 'mentions', 'none'] as const;
    // Raced with itself: every answer a 200, one stored level that the lists agree on, one membership.
    const r = await roomWith(call, owner, 'public', alice, bob);
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => put(bob, r.id, { level: levels[i % 3] })),
    );
    for (const a of answers) expectStatus(a, 200);
    const final = (await roomAs(call, bob, r.id)).notifications;
    expect(levels).toContain(final);
    expect((await listedRooms(call, bob)).find((x) => x.id === r.id)!.notifications).toBe(final);
    expect((await roomAs(call, bob, r.id)).memberCount).toBe(3);

    // Raced with leaving (public) and with a kick (private), 10 rounds each: after the race, no membership.
    const statuses = new Map<number, number>();
    const tally = (rs: Res[]) => rs.forEach((x) => statuses.set(x.status, (statuses.get(x.status) ?? 0) + 1));
    for (let round = 0; round < 10; round++) {
      const pub = await roomWith(call, owner, 'public', bob);
      const leave = call('DELETE', `/api/chatrooms/${pub.id}/members/${bob.user.id}`, {
        token: bob.accessToken,
      });
      const puts = Array.from({ length: 5 }, (_, i) => put(bob, pub.id, { level: levels[(i + 1) % 3] }));
      expectStatus(await leave, 204);
      tally(await Promise.all(puts));
      const seen = await roomAs(call, bob, pub.id);
      expect(seen).toMatchObject({ isMember: false, memberCount: 1, notifications: 'all' });

      const priv = await roomWith(call, owner, 'private', bob);
      const kick = call('DELETE', `/api/chatrooms/${priv.id}/members/${bob.user.id}`, {
        token: owner.accessToken,
      });
      const kputs = Array.from({ length: 5 }, () => put(bob, priv.id, { level: 'none' }));
      expectStatus(await kick, 204);
      tally(await Promise.all(kputs));
      expectError(
        await call('GET', `/api/chatrooms/${priv.id}`, { token: bob.accessToken }),
        404,
        'NOT_FOUND',
      );
      expect((await roomAs(call, owner, priv.id)).memberCount).toBe(1);
    }
    for (const status of statuses.keys()) expect([200, 403, 404]).toContain(status);

    // Hostile values: 400, and the level is unchanged.
    const before = (await roomAs(call, alice, r.id)).notifications;
    const hostile: unknown[] = [
      { level: 'All' },
      { level: ' all' },
      { level: 'all ' },
      { level: 'all\u0000' },
      { level: 'mentions\u200b' },
      { level: 'ｍｅｎｔｉｏｎｓ' },
      { level: 1 },
      { level: true },
      { level: ['none'] },
      { level: { toString: 'none' } },
      JSON.parse('{"level":"none","__proto__":{"isMember":true}}'),
      { level: 'none', userId: bob.user.id },
      { level: 'none', roomId: generalId },
      { level: 'x'.repeat(60_000) },
    ];
    const refused: number[] = [];
    for (const body of hostile) {
      const res = await put(alice, r.id, body);
      refused.push(res.status);
      expectError(res, 400, 'VALIDATION_ERROR');
    }
    expect((await roomAs(call, alice, r.id)).notifications).toBe(before);

    // Someone else's rooms: a private room and a DM answer as a missing room does, byte for byte; a public room
    // the caller is not in, 403. Nobody's level moves, and the caller is in none of them after.
    const priv = await roomWith(call, owner, 'private', alice);
    const dm = await call('POST', '/api/dms', { token: alice.accessToken, body: { userId: bob.user.id } });
    const missing = await put(carol, MISSING_ID, { level: 'none' });
    expectError(missing, 404, 'NOT_FOUND');
    for (const id of [priv.id, dm.body.id]) {
      const res = await put(carol, id, { level: 'none' });
      expectError(res, 404, 'NOT_FOUND');
      expect(res.body).toEqual(missing.body);
    }
    expectError(await put(carol, r.id, { level: 'none' }), 403, 'FORBIDDEN');
    for (const [s, id] of [
      [alice, priv.id],
      [alice, dm.body.id],
      [bob, dm.body.id],
      [alice, r.id],
    ] as const)
      expect((await roomAs(call, s, id)).notifications).toBe(s === alice && id === r.id ? before : 'all');
    expect((await roomAs(call, carol, r.id)).isMember).toBe(false);
    expect((await listedRooms(call, carol)).map((x) => x.id)).not.toContain(priv.id);
    console.warn(
      `M5 figures: 30 raced PUTs: 30 × 200, one level; 100 PUTs raced with 10 leaves and 10 kicks: ` +
        `${[...statuses].map(([s, n]) => `${n} × ${s}`).join(', ')}, 0 memberships left; ${hostile.length} ` +
        `hostile bodies: ${refused.filter((s) => s === 400).length} × 400; others' rooms 404 (as missing) / 403, unchanged`,
    );
  });
});
