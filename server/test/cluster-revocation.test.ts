import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io as ioClient, type Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { ChildServers, type ParleyProcess } from '../src/test-support/process.js';
import { client, register, uniqueName, type Call } from '../src/test-support/server.js';
import { waitFor } from './helpers/sockets.js';

/*
 * Revocations in cluster mode without Redis (WORKERS=2, @socket.io/cluster-adapter): each worker applies them
 * itself when the adapter brings them (realtime/revocations.ts), so a logout or a kick handled by one worker reaches
 * the sockets the other one holds. Sockets of one session are spread over both workers by the primary's
 * least-connection routing.
 */

const SOCKETS = 6;
const servers = new ChildServers();
const open: Socket[] = [];
let p: ParleyProcess;
let call: Call;

afterAll(async () => {
  for (const s of open) s.disconnect();
  await servers.cleanup();
});

interface Tab {
  socket: Socket;
  texts: string[];
  ended: { reason: string }[];
}

async function tabs(token: string, n = SOCKETS): Promise<Tab[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const socket = ioClient(p.url, {
        auth: { token },
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
      });
      open.push(socket);
      const tab: Tab = { socket, texts: [], ended: [] };
      socket.on('message:new', (m: { text: string }) => tab.texts.push(m.text));
      socket.on('session:ended', (e: { reason: string }) => tab.ended.push(e));
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      // Answered once the socket's set-up (its room subscriptions) is over.
      const res = await socket.timeout(10_000).emitWithAck('presence:list', {});
      expect(res.ok).toBe(true);
      return tab;
    }),
  );
}

async function guest(): Promise<{ accessToken: string; refreshToken: string; user: { id: string } }> {
  const res = await call('POST', '/api/auth/guest', { body: { username: `g${randomUUID().slice(0, 8)}` } });
  expect(res.status).toBe(201);
  return res.body;
}

describe('cluster: revocations reach the sockets of every worker', () => {
  it(
    'a logout ends the session on both workers; a kick unsubscribes the user on both',
    { timeout: 90_000 },
    async () => {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-cluster-rev-'));
      servers.onCleanup(() => rmSync(dataDir, { recursive: true, force: true }));
      p = await servers.start(
        { WORKERS: '2', DATA_DIR: dataDir, PASSWORD_HASH_MEMORY_KIB: '8192', ...(await servers.database()) },
        60_000,
      );
      call = client(p.url);

      const leaving = await guest();
      const leavingTabs = await tabs(leaving.accessToken);
      expect(
        (
          await call('POST', '/api/auth/logout', {
            token: leaving.accessToken,
            body: { refreshToken: leaving.refreshToken },
          })
        ).status,
      ).toBe(204);
      await waitFor(
        () => leavingTabs.every((t) => t.socket.disconnected),
        'every tab of the session to be closed',
      );
      for (const t of leavingTabs) expect(t.ended).toEqual([{ reason: 'logout' }]);

      const [owner, kicked] = [await register(call, uniqueName('own')), await guest()];
      const created = await call('POST', '/api/chatrooms', {
        token: owner.accessToken,
        body: { name: `r${randomUUID().slice(0, 8)}`, kind: 'private' },
      });
      expect(created.status).toBe(201);
      const roomId: string = created.body.id;
      const added = await call('POST', `/api/chatrooms/${roomId}/members`, {
        token: owner.accessToken,
        body: { userId: kicked.user.id },
      });
      expect(added.status).toBe(200);
      const [ownerTab] = await tabs(owner.accessToken, 1);
      const kickedTabs = await tabs(kicked.accessToken);
      expect(
        (
          await call('DELETE', `/api/chatrooms/${roomId}/members/${kicked.user.id}`, {
            token: owner.accessToken,
          })
        ).status,
      ).toBe(204);
      const secret = `after the kick ${randomUUID()}`;
      const sent = await call('POST', `/api/chatrooms/${roomId}/messages`, {
        token: owner.accessToken,
        body: { text: secret, clientId: randomUUID() },
      });
      expect(sent.status).toBe(201);
      // A later message in general, which every tab of the kicked user is in: what came before it has arrived.
      const rooms = await call('GET', '/api/chatrooms', { token: owner.accessToken });
      const general: string = rooms.body.rooms.find((r: { name: string }) => r.name === 'general').id;
      const marker = `marker ${randomUUID()}`;
      expect(
        (
          await call('POST', `/api/chatrooms/${general}/messages`, {
            token: owner.accessToken,
            body: { text: marker, clientId: randomUUID() },
          })
        ).status,
      ).toBe(201);
      await waitFor(() => ownerTab!.texts.includes(secret), 'the owner to get the message');
      await waitFor(
        () => kickedTabs.every((t) => t.texts.includes(marker)),
        'every kicked tab to get the marker',
      );
      for (const t of kickedTabs) expect(t.texts).not.toContain(secret);
    },
  );
});
