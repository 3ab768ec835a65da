import type { Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../src/test-support/server.js';
import { connectReady, createRoom, disconnected, serverSocketOf } from './helpers/realtime.js';
import { closeAllSockets, nextEvent } from './helpers/sockets.js';

/*
 * `Revocations.recheck` (realtime/revocations.ts): what a node does when revocations from other nodes may have been
 * lost (its adapter subscription was down). Here the loss is made by writing to the database behind the server's
 * back; the races themselves are in the hardening and scale-out suites (revocation-race, revocation).
 */

let server: TestServer;
let call: Call;

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
});
afterAll(async () => {
  closeAllSockets();
  await server?.close();
});

const recheck = () => server.parley.ctx.revocations.recheck(server.parley.ctx);

describe('recheck after lost revocations', () => {
  it('ends the sockets of a session revoked elsewhere and of a released account; leaves the others alone', async () => {
    const [revoked, released, kept] = [
      await register(call, uniqueName('rv')),
      await register(call, uniqueName('rl')),
      await register(call, uniqueName('kp')),
    ];
    const [a, b, c] = [
      await connectReady(server, revoked),
      await connectReady(server, released),
      await connectReady(server, kept),
    ];
    const { Session: Sessions, User } = server.parley.ctx.models;
    await Sessions.update(
      { revokedAt: new Date(), revokedReason: 'logout' },
      { where: { userId: Number(revoked.user.id) } },
    );
    await User.update({ releasedAt: new Date() }, { where: { id: Number(released.user.id) } });
    await recheck();
    expect(await nextEvent(a, 'session:ended')).toEqual({ reason: 'logout' });
    expect(await nextEvent(b, 'session:ended')).toEqual({ reason: 'released' });
    await Promise.all([disconnected(a), disconnected(b)]);
    expect(c.connected).toBe(true);
    expect(serverSocketOf(server, c).connected).toBe(true);
  });

  it('subscribes a socket to a room it missed and unsubscribes it from one it left, keeping it connected', async () => {
    const owner: Session = await register(call, uniqueName('own'));
    const user: Session = await register(call, uniqueName('mem'));
    const [joined, left] = [
      await createRoom(call, owner, 'private'),
      await createRoom(call, owner, 'private'),
    ];
    const { Membership } = server.parley.ctx.models;
    await Membership.create({
      roomId: Number(left.id),
      userId: Number(user.user.id),
      role: 'member',
      joinedAt: new Date(),
      lastReadMessageId: 0,
    });
    const socket = await connectReady(server, user);
    const serverSide = serverSocketOf(server, socket);
    expect(serverSide.rooms.has(`room:${left.id}`)).toBe(true);

    // Joined elsewhere, and the subscription never came: the recheck subscribes it.
    await Membership.create({
      roomId: Number(joined.id),
      userId: Number(user.user.id),
      role: 'member',
      joinedAt: new Date(),
      lastReadMessageId: 0,
    });
    await recheck();
    expect(serverSide.rooms.has(`room:${joined.id}`)).toBe(true);
    expect(socket.connected).toBe(true);

    // Left elsewhere, and the unsubscription never came: the recheck takes the socket out of the room.
    await Membership.destroy({ where: { roomId: Number(left.id), userId: Number(user.user.id) } });
    const r = await recheck();
    expect(r).toMatchObject({ sessionsEnded: 0, left: 1 });
    expect(serverSide.rooms.has(`room:${left.id}`)).toBe(false);
    expect(serverSide.rooms.has(`room:${joined.id}`)).toBe(true);
    expect(socket.connected).toBe(true);
  });
});
