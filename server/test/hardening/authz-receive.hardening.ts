import { serverEventSchemas, type ServerEventName } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../src/test-support/server.js';
import { closeRawSockets } from '../helpers/realtime.js';
import { closeAllSockets, received, receivedBeforeMarker, type ClientSocket } from '../helpers/sockets.js';
import {
  generalMarker,
  LISTENERS,
  receiveCases,
  type Listener,
  type ReceiveCase,
} from './matrix/receive-cases.js';
import { ROOM_KINDS } from './matrix/rules.js';
import { connectKinds, makeWorld, type World } from './matrix/world.js';

/*
 * Hardening, authorization matrix of what the server pushes (issue 8): for every server → client event of the
 * contract and every room kind, the event happens once and exactly the user kinds the contract names get it on
 * their sockets; the others (outsiders and guests above all) get nothing.
 */

let server: TestServer;
let world: World;
let sockets: Record<Listener, ClientSocket>;

beforeAll(async () => {
  server = await startTestServer();
  world = await makeWorld(server);
  sockets = await connectKinds(server, world);
});
afterAll(async () => {
  closeAllSockets();
  closeRawSockets();
  await server?.close();
});

const cases: Record<string, ReceiveCase> = receiveCases;
const cells = Object.keys(serverEventSchemas).flatMap((event) => {
  const c = cases[event];
  if (!c) throw new Error(`server event "${event}" has no expectation in matrix/receive-cases.ts`);
  return ROOM_KINDS.flatMap((roomKind) => {
    const receivers = c.receivers(roomKind);
    if (receivers === null) return [];
    const name = `B5 ${event} in a ${roomKind} room reaches ${receivers.join(', ') || 'none of the listeners'} only`;
    return [[name, { event: event as ServerEventName, roomKind, receivers, c }] as const];
  });
});

describe('B5 who receives each server event', () => {
  it('B5 has an expectation for every server event, and for nothing else', () => {
    expect(Object.keys(receiveCases).sort()).toEqual(Object.keys(serverEventSchemas).sort());
  });

  it.each(cells)('%s', async (_name, { event, roomKind, receivers, c }) => {
    const earlier = new Map(LISTENERS.map((k) => [k, new Set(received(sockets[k], event))]));
    const isIt = await c.trigger({ world, roomKind, sockets });
    const marker = await generalMarker(world);
    const got: Listener[] = [];
    for (const k of LISTENERS) {
      const before = await receivedBeforeMarker(sockets[k], event, isIt, marker);
      if (before.some((p) => !earlier.get(k)!.has(p))) got.push(k);
    }
    expect(got).toEqual(receivers);
  });
});
