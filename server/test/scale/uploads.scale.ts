import { randomUUID } from 'node:crypto';
import type { Attachment } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParleyProcess } from '../../src/test-support/process.js';
import { client, register, uniqueName, type TestServer } from '../../src/test-support/server.js';
import { png, uploadFile } from '../helpers/images.js';
import { createRoom, expectStatusOf, joinRoom } from '../helpers/realtime.js';
import { Cluster, Peer } from './support.js';

/*
 * Uploads on several nodes share one directory (docs/DECISIONS.md D12): an image uploaded through node A is served
 * by node B, and a message carrying it reaches B's members with a URL that B answers. A is in this process, B is a
 * child process given A's DATA_DIR, as two containers given one volume.
 */

let cluster: Cluster;
let A: TestServer;
let B: ParleyProcess;

beforeAll(async () => {
  cluster = await Cluster.create();
  A = await cluster.inProcess();
  B = await cluster.child({ DATA_DIR: A.config.dataDir });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

describe('uploads on a shared directory', () => {
  it('an image uploaded through node A is served by node B, in a message delivered on B', async () => {
    const callA = client(A.url);
    const callB = client(B.url);
    const alice = await register(callA, uniqueName('alice'));
    const bob = await register(callB, uniqueName('bob'));
    const room = await createRoom(callA, alice);
    await joinRoom(callB, bob, room.id);
    const bobOnB = await Peer.connect(B.url, bob);

    const bytes = await png(120, 80);
    const up = await uploadFile(A.url, alice.accessToken, bytes, { filename: 'red.png', type: 'image/png' });
    expectStatusOf(up, 201);
    const attachment = up.body as Attachment;

    const sent = await callA('POST', `/api/chatrooms/${room.id}/messages`, {
      token: alice.accessToken,
      body: { attachmentId: attachment.id, clientId: randomUUID() },
    });
    expectStatusOf(sent, 201);
    const got = await bobOnB.next('message:new', (m) => m.id === sent.body.id);
    expect(got.attachment?.id).toBe(attachment.id);

    // The presented (signed) URLs work on either node and give the same bytes.
    for (const url of [got.attachment!.url, got.attachment!.thumbnailUrl]) {
      const fromA = await fetch(new URL(url, A.url));
      const fromB = await fetch(new URL(url, B.url));
      expect([fromA.status, fromB.status]).toEqual([200, 200]);
      expect(fromB.headers.get('content-type')).toBe(fromA.headers.get('content-type'));
      expect(Buffer.from(await fromB.arrayBuffer())).toEqual(Buffer.from(await fromA.arrayBuffer()));
    }
    bobOnB.close();
  });
});
