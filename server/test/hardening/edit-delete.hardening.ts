import type { Message, Session } from '@parley/protocol';
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
  postMessage,
} from '../helpers/realtime.js';
import { closeAllSockets, emitAck, nextEvent, type ClientSocket } from '../helpers/sockets.js';

/*
 * Hardening (docs/SECURITY.md E1): an edit raced against a delete of the same message. The edit read the message
 * before the delete committed; its write must not bring the text back, and nobody may hear the message updated
 * after it was deleted. Traffic to 127.0.0.1 only; bounded rounds.
 */

let server: TestServer;
let call: Call;
let owner: Session, alice: Session, bob: Session;
let aliceSocket: ClientSocket, bobSocket: ClientSocket;

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  [owner, alice, bob] = [
    await register(call, uniqueName('own')),
    await register(call, uniqueName('ali')),
    await register(call, uniqueName('bob')),
  ];
  [aliceSocket, bobSocket] = [await connectReady(server, alice), await connectReady(server, bob)];
});
afterAll(async () => {
  closeAllSockets();
  await server?.close();
});

describe('E1 an edit raced against a delete', () => {
  it('E1 30 rounds (REST edit vs socket delete and the other way round): the deleted message stays deleted with no text, and no message:updated follows its message:deleted', async () => {
    const room = await createRoom(call, owner, 'public');
    await joinRoom(call, alice, room.id);
    await joinRoom(call, bob, room.id);
    const heard: { event: string; id: string; deleted?: boolean }[] = [];
    bobSocket.onAny((event: string, p: { id?: string; deleted?: boolean }) => {
      if (event === 'message:updated' || event === 'message:deleted')
        heard.push({ event, id: String(p.id), deleted: p.deleted });
    });
    const tally = { editWon: 0, deleteWon: 0 };
    const wrong: string[] = [];
    for (let round = 0; round < 30; round++) {
      const m = await postMessage(call, alice, room.id, `to be deleted r${round}`);
      const text = `edited r${round}`;
      const edit =
        round % 2
          ? emitAck(aliceSocket, 'message:edit', { messageId: m.id, text }).then((a) =>
              a.ok ? 200 : a.error.code,
            )
          : call('PATCH', `/api/messages/${m.id}`, { token: alice.accessToken, body: { text } }).then(
              (r) => r.status,
            );
      const del =
        round % 2
          ? call('DELETE', `/api/messages/${m.id}`, { token: alice.accessToken }).then((r) => r.status)
          : emitAck(aliceSocket, 'message:delete', { messageId: m.id }).then((a) =>
              a.ok ? 204 : a.error.code,
            );
      const [edited, deleted] = await Promise.all([edit, del]);
      expect([200, 404, 'NOT_FOUND'], `round ${round}: edit answered ${edited}`).toContain(edited);
      expect([204], `round ${round}: delete answered ${deleted}`).toContain(deleted);
      if (edited === 200) tally.editWon++;
      else tally.deleteWon++;
      // Everything bob will hear of this round came before the marker.
      const marker = await messageMarker(call, owner, room.id);
      await nextEvent(bobSocket, marker.name, marker.where);
      const stored = (await fullHistory(call, owner, room.id)).find((x: Message) => x.id === m.id)!;
      if (!stored.deleted || stored.text !== '')
        wrong.push(`round ${round}: stored ${JSON.stringify(stored)}`);
      const mine = heard.filter((h) => h.id === m.id);
      const deletedAt = mine.findIndex((h) => h.event === 'message:deleted');
      if (deletedAt < 0) wrong.push(`round ${round}: no message:deleted`);
      const late = mine.slice(deletedAt + 1).filter((h) => h.event === 'message:updated');
      if (late.length) wrong.push(`round ${round}: message:updated after message:deleted`);
    }
    console.error(
      `E1 figures: 30 rounds, the edit answered first ${tally.editWon} times, the delete ${tally.deleteWon} times; ${wrong.length} wrong`,
    );
    expect(wrong).toEqual([]);
  });
});
