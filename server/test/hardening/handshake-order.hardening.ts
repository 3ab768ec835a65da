import type { Session } from '@parley/protocol';
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
  closeRawSockets,
  connectReady,
  disconnected,
  emitNoAck,
  expectHandshakeRefused,
  generalRoomId,
  newClientId,
  serverSocketOf,
} from '../helpers/realtime.js';
import { closeAllSockets, waitFor } from '../helpers/sockets.js';
import { decodeToken, signLike } from '../helpers/tokens.js';

/*
 * S9 (docs/SECURITY.md, Socket abuse): the handshake runs its cheap checks first (token present → signature and
 * expiry → flood cool-down → per-user and per-address quotas) and reads the database only for a handshake that
 * passed them all; the handshakes in flight at once share their reads. Every query the server runs is seen
 * through `db.watchQueries` (Sequelize's `afterQuery` hook and the reader's own queries).
 */

let server: TestServer;
let call: Call;
const sql: string[] = [];
let stopWatching: (() => void) | undefined;

beforeAll(async () => {
  server = await startTestServer({
    maxSocketsPerUser: 1,
    socketFloodCooldownSec: 10,
    // The production message limits, so that the event budget is the default one (60 at once, 30/s).
    messageBurst: 20,
    messageRatePerSec: 5,
  });
  call = client(server.url);
  stopWatching = server.parley.ctx.db.watchQueries((query) => void sql.push(query));
});

afterAll(async () => {
  closeAllSockets();
  closeRawSockets();
  stopWatching?.();
  await server?.close();
});

/** The queries the server runs while `work` runs (nothing else runs meanwhile in this file). */
async function queriesDuring(work: () => Promise<unknown>): Promise<string[]> {
  const from = sql.length;
  await work();
  return sql.slice(from);
}

const refused = (token: unknown) =>
  expectHandshakeRefused(server, { auth: token === undefined ? {} : { token } });

describe('S9 the handshake: cheap checks first, the database last and shared', () => {
  let alice: Session;

  beforeAll(async () => {
    alice = await register(call, uniqueName('alice'));
  });

  it('S9a a refused token costs no query: none, forged, expired', async () => {
    const claims = decodeToken(alice.accessToken);
    const forged = `${alice.accessToken.slice(0, -4)}AAAA`;
    const expired = signLike(
      server,
      { sid: claims.sid, iat: Math.floor(Date.now() / 1000) - 3600, exp: Math.floor(Date.now() / 1000) - 60 },
      { subject: alice.user.id },
    );
    const errors: string[] = [];
    const queries = await queriesDuring(async () => {
      for (const token of [undefined, '', 'not.a.token', forged, expired])
        errors.push((await refused(token)).message);
    });
    expect(errors).toEqual(['UNAUTHORIZED', 'UNAUTHORIZED', 'UNAUTHORIZED', 'UNAUTHORIZED', 'TOKEN_EXPIRED']);
    expect(queries).toEqual([]);
  });

  it('S9b a valid token reads the session and user (the control: the hook sees handshake queries)', async () => {
    let socket: Awaited<ReturnType<typeof connectReady>> | undefined;
    // Until its arrival has settled (rooms joined), so that no query of it is still to come.
    const queries = await queriesDuring(async () => {
      socket = await connectReady(server, alice);
    });
    expect(queries.some((q) => /FROM [`"]?sessions/i.test(q))).toBe(true);

    // Over MAX_SOCKETS_PER_USER (1): refused before the database.
    const over = await queriesDuring(async () => {
      expect((await refused(alice.accessToken)).message).toBe('RATE_LIMITED');
    });
    expect(over).toEqual([]);
    socket!.disconnect();
    await waitFor(() => server.parley.io.of('/').sockets.size === 0, 'the socket to go');
  });

  it('S9c a user in its flood cool-down is refused before the database', async () => {
    const flooder = await register(call, uniqueName('fl'));
    const roomId = await generalRoomId(call, flooder);
    const s = await connectReady(server, flooder);
    const serverSide = serverSocketOf(server, s);
    const gone = disconnected(s, 15_000);
    for (let i = 0; i < 1000; i++)
      emitNoAck(s, 'message:send', { roomId, text: `flood ${i}`, clientId: newClientId() });
    expect(await gone).toBe('io server disconnect');
    await waitFor(() => server.parley.io.of('/').sockets.size === 0, 'the flooder to be dropped');
    // Its departure (presence, last seen) has settled: none of its queries is still to come.
    await server.parley.ctx.bookkeeping.settled(serverSide);
    const queries = await queriesDuring(async () => {
      const err = await refused(flooder.accessToken);
      expect(err.message).toBe('RATE_LIMITED');
      expect((err.data as { error: { retryAfter: number } }).error.retryAfter).toBeGreaterThan(0);
    });
    // A handshake that reached the database would have read the session (the flood's admitted sends may still be
    // reading their caller: those are not the handshake's).
    expect(queries.filter((q) => /FROM [`"]?sessions/i.test(q))).toEqual([]);
  });

  it('S9d 40 handshakes at once share their session, user and membership reads', async () => {
    const users = await Promise.all(Array.from({ length: 40 }, () => register(call, uniqueName('many'))));
    let sockets: Awaited<ReturnType<typeof connectReady>>[] = [];
    const queries = await queriesDuring(async () => {
      sockets = await Promise.all(users.map((u) => connectReady(server, u)));
    });
    const sessionReads = queries.filter((q) => /FROM [`"]?sessions/i.test(q)).length;
    // The arrivals' reads (the test's own helper reads memberships too, one user at a time: not counted).
    const membershipReads = queries.filter((q) =>
      /SELECT [`"]userId[`"], [`"]roomId[`"] FROM [`"]memberships/i.test(q),
    ).length;
    console.warn(
      `S9d figures: 40 handshakes at once: ${sessionReads} session reads, ${membershipReads} membership reads, ` +
        `${queries.length} queries in all`,
    );
    if (process.env.S9_SQL) console.warn(queries.join('\n'));
    expect(sessionReads).toBeGreaterThan(0);
    expect(sessionReads).toBeLessThanOrEqual(20);
    expect(membershipReads).toBeGreaterThan(0);
    expect(membershipReads).toBeLessThanOrEqual(20);
    for (const s of sockets) s.disconnect();
  });
});
