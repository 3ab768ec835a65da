import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { client, register, uniqueName } from '../../src/test-support/server.js';
import { createRoom, expectStatusOf, joinRoom } from '../helpers/realtime.js';
import { Cluster, Peer } from './support.js';

/*
 * docker-compose.yml, the Dockerfile and deploy/nginx.conf cannot be run here (no container engine), so this keeps
 * them in step with what the tests run: the compose file's node environment, with only the addresses swapped for
 * the test's PostgreSQL, Redis and a shared directory, starts two nodes of one chat; every variable it sets is
 * documented; the image's health check passes against a node; nginx balances over exactly the compose nodes.
 */

const ROOT = path.resolve(import.meta.dirname, '../../..');
const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');

interface ComposeService {
  environment?: Record<string, string>;
  volumes?: string[];
}
const compose = parse(read('docker-compose.yml')) as {
  'x-parley': ComposeService;
  services: Record<string, ComposeService>;
};
const nodeEnv = compose['x-parley'].environment!;
const parleyNodes = Object.keys(compose.services).filter((s) => /^parley\d+$/.test(s));

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('the docker compose deployment', () => {
  it('sets only documented variables, and nginx balances over exactly its nodes', () => {
    const documented = read('docs/CONFIGURATION.md');
    for (const name of Object.keys(nodeEnv)) expect(documented, name).toContain(`\`${name}\``);
    expect(parleyNodes.length).toBeGreaterThanOrEqual(2);
    const upstreams = [...read('deploy/nginx.conf').matchAll(/^\s*server\s+(parley\d+):(\d+)/gm)];
    expect(upstreams.map((m) => m[1]).sort()).toEqual([...parleyNodes].sort());
    for (const m of upstreams) expect(m[2]).toBe(nodeEnv.PORT);
    // Every node shares the uploads volume (docs/DECISIONS.md D12).
    expect(compose['x-parley'].volumes).toContain(`uploads:${nodeEnv.DATA_DIR}/uploads`);
    expect(read('Dockerfile')).toMatch(/^CMD \["node", "server\/dist\/index\.js"\]$/m);
  });

  it('its node environment runs two nodes of one chat, which pass the image health check', async () => {
    const cluster = await Cluster.create();
    cleanups.push(() => cluster.close());
    const shared = mkdtempSync(path.join(os.tmpdir(), 'parley-volume-'));
    cleanups.push(() => rmSync(shared, { recursive: true, force: true }));
    const env = {
      ...nodeEnv,
      // Only the addresses differ from the compose file.
      DATABASE_URL: cluster.spec.databaseUrl,
      REDIS_URL: cluster.spec.redisUrl,
      JWT_SECRET: cluster.spec.jwtSecret,
      DATA_DIR: shared,
      HOST: '127.0.0.1',
      PORT: '0',
    };
    const nodes = [await cluster.child(env), await cluster.child(env)];

    // The Dockerfile's HEALTHCHECK command, run as the container would, against each node.
    const check = /HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])/.exec(read('Dockerfile'))![1]!;
    const [cmd, ...args] = JSON.parse(check) as string[];
    expect(cmd).toBe('node');
    for (const n of nodes) {
      const port = new URL(n.url).port;
      const run = promisify(execFile)(process.execPath, args, {
        env: { PATH: process.env.PATH, PORT: port },
      });
      await expect(run).resolves.toBeDefined();
    }

    const [one, two] = nodes.map((n) => client(n.url)) as [
      ReturnType<typeof client>,
      ReturnType<typeof client>,
    ];
    const alice = await register(one, uniqueName('alice'));
    const bob = await register(two, uniqueName('bob'));
    const room = await createRoom(one, alice);
    await joinRoom(two, bob, room.id);
    const bobOnTwo = await Peer.connect(nodes[1]!.url, bob);
    const sent = await one('POST', `/api/chatrooms/${room.id}/messages`, {
      token: alice.accessToken,
      body: { text: 'through node one', clientId: randomUUID() },
    });
    expectStatusOf(sent, 201);
    await bobOnTwo.next('message:new', (m) => m.id === sent.body.id);
    bobOnTwo.close();
  }, 90_000);
});
