import { randomBytes } from 'node:crypto';
import http from 'node:http';
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
import { fetchBytes, multipartParts, noisePng, png, uploadFile } from './helpers/images.js';
import { waitFor } from './helpers/sockets.js';
import { expectNothingLeft, openUploadFiles, storedFiles, tempFiles } from './helpers/uploads.js';

/*
 * Uploads when things go wrong: a client that vanishes mid-body, an attacker guessing ids. Whatever happens, no
 * partial file and no row are left behind, and no file descriptor stays open. (A full disk is case F3 of the
 * hardening suite: server/test/hardening/faults-disk.hardening.ts.)
 */

let server: TestServer;
let call: Call;

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
});

afterAll(async () => {
  await server?.close();
});

describe('an upload interrupted mid-body', () => {
  let alice: Session;
  beforeAll(async () => {
    alice = await register(call, uniqueName('alice'));
  });

  /**
   * Starts a 2 MiB upload, sends the part headers and `sendBytes` of the file, waits until the server has
   * started writing the temp file (so the interruption really happens mid-upload), then destroys the socket.
   */
  async function interruptAfter(sendBytes: number): Promise<void> {
    const file = await noisePng(850, 850); // ~2 MiB
    const { boundary, head, tail } = multipartParts();
    const req = http.request(`${server.url}/api/uploads`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${alice.accessToken}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + file.length + tail.length),
      },
    });
    const outcome = new Promise<string>((resolve) => {
      req.on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      req.on('response', (res) => resolve(`response ${res.statusCode}`));
    });
    const write = (buf: Buffer) =>
      new Promise<void>((resolve, reject) => req.write(buf, (err) => (err ? reject(err) : resolve())));
    await write(head);
    for (let sent = 0; sent < sendBytes; sent += 64 * 1024) {
      await write(file.subarray(sent, Math.min(sendBytes, sent + 64 * 1024)));
    }
    await waitFor(
      () => tempFiles(server).some((f) => f.endsWith('.upload')),
      'the server to start writing the temp file',
    );
    req.destroy();
    // The client sees its own abort, never a success.
    expect(await outcome).not.toMatch(/^response 2/);
  }

  it.each([
    ['just after the file began', 1024],
    ['half-way through the file', 1024 * 1024],
    ['with all but the closing boundary sent', -1],
  ])('leaves no temp file, no stored file and no row (%s)', async (_when, bytes) => {
    const rows = await server.parley.ctx.models.Attachment.count();
    const files = storedFiles(server);
    const total = bytes === -1 ? (await noisePng(850, 850)).length : bytes;
    await interruptAfter(total);
    await expectNothingLeft(server);
    expect(storedFiles(server)).toEqual(files);
    expect(await server.parley.ctx.models.Attachment.count()).toBe(rows);
    // The server is fine afterwards: the next upload works.
    expect((await uploadFile(server.url, alice.accessToken, await png(8, 8))).status).toBe(201);
  });
});

describe('a download abandoned mid-way', () => {
  it('closes the file when the client goes away before the end', async () => {
    const alice = await register(call, uniqueName('alice'));
    const up = await uploadFile(server.url, alice.accessToken, await noisePng(1200, 1200)); // ~4 MiB served
    expect(up.status).toBe(201);
    expect(up.body.size).toBeGreaterThan(4 * 1024 * 1024);
    await expectNothingLeft(server);
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${server.url}${up.body.url}`, (res) => {
        expect(res.statusCode).toBe(200);
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          // Stop reading after the first chunk: the server is mid-file, its socket buffers fill.
          res.pause();
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) =>
        (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err),
      );
    });
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(up.body.size);
    await waitFor(
      () => openUploadFiles(server).length === 0,
      `the server to close the served file (holds ${openUploadFiles(server).join(', ')})`,
    );
    // And it still serves it in full to the next client.
    const again = await fetchBytes(server.url, up.body.url);
    expect(again.bytes.length).toBe(up.body.size);
  });
});

describe('guessing upload ids', () => {
  it('answers 404 to 1,000 guessed ids (0 hits), with or without a token or a signature', async () => {
    const owner = await register(call, uniqueName('owner'));
    const guesser = await register(call, uniqueName('guesser'));
    const real = await uploadFile(server.url, owner.accessToken, await png(8, 8));
    expect(real.status).toBe(201);
    const realId: string = real.body.id;
    const query = real.body.url.split('?')[1] as string;
    // The real one is served (so that the guesses below could hit).
    expect((await fetchBytes(server.url, real.body.url)).status).toBe(200);

    const guesses: string[] = [];
    // Ids of the right shape…
    for (let i = 0; i < 900; i++) guesses.push(randomBytes(16).toString('base64url'));
    // …and near misses of the real one: one character changed, or cut short.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; guesses.length < 989; i++) {
      const at = i % realId.length;
      const c = alphabet[(alphabet.indexOf(realId[at]!) + 1 + (i % 63)) % 64]!;
      guesses.push(realId.slice(0, at) + c + realId.slice(at + 1));
    }
    guesses.push(realId.slice(0, -1), realId.slice(1), `${realId}A`, realId.toLowerCase());
    guesses.push('1', '0', '..%2F..%2Fparley.db', 'tmp', `${realId}.thumb`, '%00', 'null');
    while (guesses.length < 1000) guesses.push(randomBytes(12).toString('hex'));
    expect(guesses.length).toBe(1000);
    expect(guesses).not.toContain(realId);

    let hits = 0;
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < guesses.length) {
        const i = next++;
        const id = guesses[i]!;
        // Alternate: no credentials, the guesser's token, and the real id's signature.
        const url = i % 3 === 2 ? `/api/uploads/${id}?${query}` : `/api/uploads/${id}`;
        const res = await fetchBytes(server.url, url, i % 3 === 1 ? guesser.accessToken : undefined);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status !== 404) hits++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(Object.fromEntries(statuses)).toEqual({ 404: 1000 });
    expect(hits).toBe(0);
  });
});
