import { readFileSync } from 'node:fs';
import newman, { type NewmanRunSummary } from 'newman';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTION_PATH, renderPostmanCollection } from '../../scripts/generate-postman.js';
import { startTestServer, type TestServer } from '../src/test-support/server.js';

/*
 * The committed Postman collection (docs/postman, generated from the OpenAPI document) is current, and Newman runs
 * it against a real server: every request runs, in order, and every check passes (documented status, response
 * body against the documented schema, flow-specific checks).
 */

const committed = readFileSync(COLLECTION_PATH, 'utf8');

interface Item {
  name: string;
  item?: Item[];
  request?: unknown;
}
const requestsOf = (items: Item[]): Item[] => items.flatMap((i) => (i.item ? requestsOf(i.item) : [i]));

describe('the Postman collection', () => {
  it('is what `npm run docs:postman` generates from the current OpenAPI document', () => {
    // If this fails, the API changed: run `npm run docs:postman` and commit the collection.
    expect(committed === renderPostmanCollection(), 'run `npm run docs:postman`').toBe(true);
  });

  describe('run by Newman against a live server', () => {
    let srv: TestServer;
    let summary: NewmanRunSummary;
    const collection = JSON.parse(committed) as { item: Item[] };
    const requests = requestsOf(collection.item);

    beforeAll(async () => {
      srv = await startTestServer();
      summary = await new Promise<NewmanRunSummary>((resolve, reject) =>
        newman.run(
          {
            collection: collection as never,
            envVar: [{ key: 'baseUrl', value: srv.url }],
            reporters: [],
            timeoutRequest: 10_000,
          },
          (err, s) => (err ? reject(err) : resolve(s)),
        ),
      );
    }, 60_000);
    afterAll(async () => {
      await srv?.close();
    });

    it('targets only the test server', () => {
      for (const e of summary.run.executions) {
        expect(e.request.url.getHost()).toBe('127.0.0.1');
        expect(String(e.request.url.port)).toBe(new URL(srv.url).port);
      }
    });

    /** One execution per request item. (Newman lists an item twice when its script uses pm.sendRequest.) */
    const executions = () => {
      const byPosition = new Map(summary.run.executions.map((e) => [e.cursor.position, e]));
      return [...byPosition.keys()].sort((a, b) => a - b).map((p) => byPosition.get(p)!);
    };

    it('runs every request of the collection, in order, each getting an answer', () => {
      const names = requests.map((r) => r.name);
      expect(new Set(names).size, 'request names must be unique').toBe(names.length);
      expect(names.length).toBeGreaterThanOrEqual(25);
      expect(summary.run.stats.items.total).toBe(names.length);
      expect(executions().map((e) => e.item.name)).toEqual(names);
      for (const e of executions()) {
        expect((e as { requestError?: unknown }).requestError, e.item.name).toBeUndefined();
        expect(e.response?.code, e.item.name).toBeGreaterThan(0);
      }
    });

    it('passes every check, and every request checks its documented status', () => {
      const failures = summary.run.failures.map(
        (f) => `${f.source?.name ?? '?'}: ${(f.error as { message?: string }).message ?? String(f.error)}`,
      );
      expect(failures).toEqual([]);
      for (const e of executions()) {
        const assertions = (e as { assertions?: { assertion: string; error?: unknown }[] }).assertions ?? [];
        const status = assertions.filter((a) => /^status is \d{3}$/.test(a.assertion));
        expect(status.length, `${e.item.name} checks no status`).toBe(1);
        expect(
          assertions.every((a) => !a.error),
          e.item.name,
        ).toBe(true);
        expect(`status is ${e.response.code}`).toBe(status[0]!.assertion);
      }
      expect(summary.run.stats.assertions.failed).toBe(0);
      expect(summary.run.stats.assertions.total).toBeGreaterThan(requests.length * 2);
    });
  });
});
