import { afterAll, describe, expect, it } from 'vitest';
import { decodePayload, encodePayload } from '../loadgen/protocol.js';
import { runBaseline, type BaselineServer } from './baseline.js';
import { failures } from './ladder.js';
import { LoadGen, type StepResult } from './loadgen.js';
import { ratio, renderTable } from './report.js';
import { percentiles } from './stats.js';
import type { ResultRow } from './types.js';

const row = (over: Partial<ResultRow>): ResultRow => ({
  scenario: 's',
  case: 'c',
  metric: 'm',
  unit: 'u',
  higherIsBetter: true,
  parley: 50,
  baselines: { b: 100 },
  ...over,
});

const step = (over: Partial<StepResult>): StepResult => ({
  msgRate: 10,
  offeredDeliveries: 1000,
  sentRate: 10,
  sentInWindow: 30,
  scheduledInWindow: 30,
  deliveriesPerSec: 1000,
  latency: { p50: 5, p95: 20, p99: 40, max: 50 },
  lost: 0,
  duplicated: 0,
  ackErrors: 0,
  ackErrorSample: [],
  serverCpu: 0.2,
  serverRssMiB: 100,
  ...over,
});

describe('bench harness, pure parts', () => {
  it('computes nearest-rank percentiles of unsorted values', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(values)).toEqual({ p50: 50, p95: 95, p99: 99, max: 100 });
    expect(percentiles([])).toEqual({ p50: 0, p95: 0, p99: 0, max: 0 });
  });

  it('round-trips a payload padded to its size', () => {
    const text = encodePayload(7, 3, 42, 100);
    expect(text).toHaveLength(100);
    expect(decodePayload(text)).toMatchObject({ sender: 7, step: 3, seq: 42 });
    expect(decodePayload('hello')).toBeNull();
  });

  it('orients ratios so that above 1 means Parley does better', () => {
    expect(ratio(row({ parley: 50 }), 100)).toBe(0.5);
    expect(ratio(row({ parley: 50, higherIsBetter: false }), 100)).toBe(2);
    expect(ratio(row({ parley: -3 }), 100)).toBeNull();
    expect(renderTable([row({})])).toContain('b 100 (0.50x)');
  });

  it('fails a ladder step on latency, loss, refusals or a generator that fell behind', () => {
    expect(failures(step({}))).toEqual([]);
    expect(failures(step({ latency: { p50: 5, p95: 20, p99: 101, max: 150 } }))[0]).toMatch(/p99/);
    expect(failures(step({ lost: 1 }))).toEqual(['1 lost']);
    expect(failures(step({ ackErrors: 2, ackErrorSample: ['RATE_LIMITED'] }))[0]).toMatch(/refused/);
    expect(failures(step({ sentInWindow: 20 }))[0]).toMatch(/generator/);
  });
});

describe('bench load generator against the ws baseline', () => {
  let server: BaselineServer | undefined;
  let lg: LoadGen | undefined;
  afterAll(async () => {
    await server?.stop();
    await lg?.close();
  });

  it('delivers every message to every member exactly once and counts it', async () => {
    server = await runBaseline('ws');
    lg = await LoadGen.start(2);
    const members = 10;
    const c = await lg.connect('ws', server.url, members, { concurrency: 10 });
    expect(c).toMatchObject({ ok: members, failed: 0 });
    const r = await lg.step({
      senders: 4,
      msgRate: 40,
      durationMs: 1000,
      warmupMs: 250,
      payloadBytes: 100,
      drainMs: 5000,
      serverPid: server.pid,
    });
    expect(r.lost).toBe(0);
    expect(r.duplicated).toBe(0);
    expect(r.sentInWindow).toBeGreaterThan(0);
    // Every message sent in the measured window (1000 - 250 ms) reached all members.
    const windowSec = 0.75;
    expect(r.deliveriesPerSec * windowSec).toBeCloseTo(r.sentInWindow * members, 0);
    expect(r.latency.max).toBeGreaterThan(0);
  });
});
