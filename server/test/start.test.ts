import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io as ioClient } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ChildServers, type ParleyProcess, exitWithin } from '../src/test-support/process.js';
import { PG_URL } from '../src/test-support/server.js';

/*
 * The production start path, as `npm start` runs it minus the build: the real entry point in its own process,
 * NODE_ENV=production, PORT=0. It must answer health, the web client and the docs, and leave on SIGTERM with 0.
 */

const servers = new ChildServers();
afterEach(() => servers.cleanup());
const DIALECT = PG_URL ? 'postgres' : 'sqlite';

async function productionServer(): Promise<ParleyProcess> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-start-'));
  servers.onCleanup(() => rmSync(dataDir, { recursive: true, force: true }));
  return servers.start({
    NODE_ENV: 'production',
    JWT_SECRET: randomBytes(32).toString('base64'),
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    PASSWORD_HASH_MEMORY_KIB: '8192',
    ...(await servers.database()),
  });
}

describe(`production start (${DIALECT})`, () => {
  it('serves health, the web client and the docs, then stops on SIGTERM with exit code 0', async () => {
    const p = await productionServer();

    const health = await fetch(`${p.url}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', checks: { database: 'ok', realtime: 'ok' } });

    const home = await fetch(`${p.url}/`);
    expect(home.status).toBe(200);
    expect((await home.text()).length).toBeGreaterThan(0);
    // A client-side route falls back to the web client too.
    expect((await fetch(`${p.url}/rooms/anything`)).status).toBe(200);

    const docs = await fetch(`${p.url}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/text\/html/);
    const openapi = await fetch(`${p.url}/docs/openapi.json`);
    expect(openapi.status).toBe(200);
    expect(((await openapi.json()) as { openapi: string }).openapi).toMatch(/^3\.1\./);

    // An unknown API path is a JSON 404, not the web client.
    const nope = await fetch(`${p.url}/api/no-such-thing`);
    expect(nope.status).toBe(404);
    expect(((await nope.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');

    p.proc.kill('SIGTERM');
    expect(await exitWithin(p, 15_000)).toEqual({ code: 0, signal: null });
    // Logs are JSON lines on stdout, the shutdown among them.
    const lines = p.output().trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(lines.some((l) => /shutting down/.test(JSON.parse(l).msg ?? ''))).toBe(true);
    // Nothing listens any more.
    await expect(fetch(`${p.url}/api/health`)).rejects.toThrow();
  }, 90_000);

  it('leaves gracefully with a connected socket and an open keep-alive connection', async () => {
    const p = await productionServer();
    const name = `st${process.pid % 100000}`;
    const reg = await fetch(`${p.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: name, email: `${name}@example.com`, password: 'correct-horse-9' }),
    });
    expect(reg.status).toBe(201);
    const { accessToken } = (await reg.json()) as { accessToken: string };

    const socket = ioClient(p.url, {
      auth: { token: accessToken },
      transports: ['websocket'],
      reconnection: false,
    });
    servers.onCleanup(() => void socket.close());
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket did not connect')), 15_000);
      socket.once('connect', () => (clearTimeout(timer), resolve()));
      socket.once('connect_error', (e) => (clearTimeout(timer), reject(e)));
    });
    const disconnected = new Promise<string>((resolve) =>
      socket.once('disconnect', (reason) => resolve(reason)),
    );

    p.proc.kill('SIGTERM');
    expect(await exitWithin(p, 15_000)).toEqual({ code: 0, signal: null });
    // The server said goodbye rather than vanishing.
    expect(await disconnected).toBe('transport close');
  }, 90_000);
});
