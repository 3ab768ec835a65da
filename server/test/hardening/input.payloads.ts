import { LIMITS } from '@parley/protocol';
import type { z } from 'zod';
import type { TestServer } from '../../src/test-support/server.js';

/*
 * Hostile payloads for case I1/I2 (docs/SECURITY.md, Input), generated from a route's or an event's zod schema so
 * that a new route or event is covered without touching the suite: oversize, empty, wrong types (the whole payload
 * and each field), 10,000 levels of nesting, and prototype-polluting keys.
 */

export interface BadPayload {
  name: string;
  /** The JSON text (REST sends it as is; the socket sends `JSON.parse(raw)`, own `__proto__` key included). */
  raw: string;
  /** The status a REST route must answer (400 unless said). */
  status: 400 | 413;
}

/** The field names of an object schema (zod v4 keeps `.shape` through `.refine` and `.meta`). */
export const fieldsOf = (schema: z.ZodType | undefined): string[] =>
  Object.keys((schema as { shape?: object } | undefined)?.shape ?? {});

const DEPTH = 10_000;
const deep = '['.repeat(DEPTH) + ']'.repeat(DEPTH);

/** Every bad payload for `schema`. `{}` is left out when the schema accepts it (it is not bad, then). */
export function badPayloads(schema: z.ZodType | undefined, maxBytes: number): BadPayload[] {
  const fields = fieldsOf(schema);
  const first = fields[0] ?? 'x';
  const out: BadPayload[] = [
    { name: 'oversize', raw: JSON.stringify({ [first]: 'x'.repeat(maxBytes + 1024) }), status: 413 },
    { name: 'array', raw: '[]', status: 400 },
    { name: 'string', raw: '"x"', status: 400 },
    { name: 'number', raw: '42', status: 400 },
    { name: 'null', raw: 'null', status: 400 },
    { name: `${DEPTH} levels of arrays`, raw: deep, status: 400 },
    { name: `${DEPTH} levels of arrays in ${first}`, raw: `{"${first}":${deep}}`, status: 400 },
    { name: '__proto__', raw: '{"__proto__":{"polluted":"yes"}}', status: 400 },
    { name: 'constructor.prototype', raw: '{"constructor":{"prototype":{"polluted":"yes"}}}', status: 400 },
  ];
  if (!schema?.safeParse({}).success) out.push({ name: 'empty object', raw: '{}', status: 400 });
  for (const f of fields) {
    out.push(
      { name: `${f}: object`, raw: JSON.stringify({ [f]: { polluted: 'yes' } }), status: 400 },
      { name: `${f}: number`, raw: JSON.stringify({ [f]: 12345 }), status: 400 },
      { name: `${f}: array`, raw: JSON.stringify({ [f]: ['x'] }), status: 400 },
      { name: `${f}: 60,000 chars`, raw: JSON.stringify({ [f]: 'x'.repeat(60_000) }), status: 400 },
      { name: `${f} beside __proto__`, raw: `{"__proto__":{"polluted":"yes"},"${f}":"x"}`, status: 400 },
    );
  }
  return out;
}

/** The REST body limit. */
export const JSON_MAX = LIMITS.jsonBodyMaxBytes;

/** Rows of every table: nothing a refused request does may change them. */
export async function rowCounts(server: TestServer): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const [name, model] of Object.entries(server.parley.ctx.models))
    counts[name] = await (model as { count(): Promise<number> }).count();
  return counts;
}

/** Object.prototype was not polluted (this process hosts the server). */
export function expectNoPollution(): string[] {
  const probe = {} as Record<string, unknown>;
  const bad: string[] = [];
  if ('polluted' in probe || (Object.prototype as Record<string, unknown>).polluted !== undefined)
    bad.push('Object.prototype.polluted is set');
  return bad;
}
