import { clientEventSchemas } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../src/test-support/server.js';
import { closeRawSockets } from '../helpers/realtime.js';
import { closeAllSockets, type ClientSocket } from '../helpers/sockets.js';
import { eventCells, runEventCell } from './matrix/cells.js';
import { eventCases } from './matrix/event-cases.js';
import { connectKinds, makeWorld, type World } from './matrix/world.js';

/*
 * Hardening, authorization matrix over the socket (issue 8): every user kind × room kind × client event of the
 * contract, each ack exactly what the contract says (matrix/rules.ts) and, on success, matching the event's ack
 * schema. A logged-out caller is refused at the handshake.
 */

let server: TestServer;
let world: World;
let sockets: Record<'owner' | 'member' | 'outsider' | 'guest', ClientSocket>;

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

describe('B2 authorization matrix, socket events', () => {
  it('B2 has an expectation for every client event, and for nothing else', () => {
    expect(Object.keys(eventCases).sort()).toEqual(Object.keys(clientEventSchemas).sort());
  });

  it.each(eventCells().map((cell) => [cell.name, cell] as const))('%s', async (_name, cell) => {
    await runEventCell(world, sockets, cell);
  });
});
