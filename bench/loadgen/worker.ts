// A load-generator process: holds its share of the sockets, sends at a fixed rate and checks every delivery.
// Commands arrive over IPC from bench/lib/loadgen.ts (see protocol.ts).
import { connectClient, type BenchClient } from './clients.js';
import {
  decodePayload,
  encodePayload,
  nowMs,
  type ConnectCmd,
  type StepCmd,
  type TallyCmd,
  type WorkerCmd,
  type WorkerReply,
} from './protocol.js';

const LATENCY_SAMPLE = 50_000;

const clients: (BenchClient | undefined)[] = [];

/** Per-step receive state: per receiver, the last sequence number seen from each sender. */
let rx = {
  step: -1,
  senderCount: 0,
  from: 0,
  to: 0,
  lastSeen: [] as Int32Array[],
  windowDeliveries: 0,
  deliveries: 0,
  duplicated: 0,
  gaps: 0,
  latencies: [] as number[],
  seenLatencies: 0,
  maxLatency: 0,
};

const reply = (m: WorkerReply) => process.send!(m);

function receive(receiver: number, text: string): void {
  const at = nowMs();
  const p = decodePayload(text);
  if (!p || p.step !== rx.step || p.sender >= rx.senderCount) return;
  const seen = rx.lastSeen[receiver]!;
  const last = seen[p.sender]!;
  if (p.seq <= last) {
    rx.duplicated++;
    return;
  }
  if (p.seq > last + 1) rx.gaps += p.seq - last - 1;
  seen[p.sender] = p.seq;
  rx.deliveries++;
  if (p.at < rx.from || p.at >= rx.to) return;
  rx.windowDeliveries++;
  const latency = at - p.at;
  if (latency > rx.maxLatency) rx.maxLatency = latency;
  // Reservoir sampling keeps a uniform sample without storing every delivery.
  rx.seenLatencies++;
  if (rx.latencies.length < LATENCY_SAMPLE) rx.latencies.push(latency);
  else {
    const j = Math.floor(Math.random() * rx.seenLatencies);
    if (j < LATENCY_SAMPLE) rx.latencies[j] = latency;
  }
}

async function connect(cmd: ConnectCmd): Promise<void> {
  const started = performance.now();
  if (!cmd.append) for (const c of clients.splice(0)) c?.close();
  const base = clients.length;
  let next = 0;
  let ok = 0;
  const errors: string[] = [];
  const latencies: number[] = [];
  const one = async (i: number) => {
    const t0 = performance.now();
    try {
      clients[base + i] = await connectClient(
        cmd.kind,
        cmd.url,
        cmd.tokens?.[i],
        cmd.timeoutMs,
        (text) => receive(base + i, text),
        cmd.reconnect,
      );
      ok++;
      latencies.push(performance.now() - t0);
    } catch (err) {
      if (errors.length < 5) errors.push(err instanceof Error ? err.message : String(err));
    }
  };
  const lane = async () => {
    while (next < cmd.count) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(cmd.concurrency, cmd.count) }, lane));
  reply({ t: 'connected', ok, failed: cmd.count - ok, ms: performance.now() - started, errors, latencies });
}

/** Open-loop sending: at each tick, send whatever the schedule says is due, whether or not earlier sends were acked. */
async function step(cmd: StepCmd): Promise<void> {
  rx = {
    step: cmd.step,
    senderCount: cmd.senderCount,
    from: cmd.startAt + cmd.warmupMs,
    to: cmd.startAt + cmd.durationMs,
    lastSeen: clients.map(() => new Int32Array(cmd.senderCount)),
    windowDeliveries: 0,
    deliveries: 0,
    duplicated: 0,
    gaps: 0,
    latencies: [],
    seenLatencies: 0,
    maxLatency: 0,
  };
  const seq = cmd.senderIds.map(() => 0);
  const total = cmd.ratePerSender * cmd.senders.length;
  let sent = 0;
  let sentInWindow = 0;
  let ackErrors = 0;
  const ackErrorSample: string[] = [];
  const onAck = (error: string | null) => {
    if (error === null) return;
    ackErrors++;
    if (ackErrorSample.length < 5) ackErrorSample.push(error);
  };
  await new Promise((r) => setTimeout(r, Math.max(0, cmd.startAt - nowMs())));
  const end = cmd.startAt + cmd.durationMs;
  for (;;) {
    const now = nowMs();
    const due = Math.min(
      Math.floor(((Math.min(now, end) - cmd.startAt) * total) / 1000),
      Math.floor((cmd.durationMs * total) / 1000),
    );
    while (sent < due) {
      // Round-robin over the senders spreads each tick's messages evenly.
      const k = sent % cmd.senders.length;
      const s = cmd.senderIds[k]!;
      const n = ++seq[k]!;
      const at = nowMs();
      const text = encodePayload(s, cmd.step, n, cmd.payloadBytes, at);
      // The receivers' rule: a message belongs to the measured window by its send time.
      if (at >= rx.from && at < rx.to) sentInWindow++;
      clients[cmd.senders[k]!]?.send(text, `b${s}-${cmd.step}-${n}`, cmd.roomId, onAck);
      sent++;
    }
    if (now >= end) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const lastSeq: Record<number, number> = {};
  cmd.senderIds.forEach((s, k) => (lastSeq[s] = seq[k]!));
  reply({ t: 'sent', step: cmd.step, lastSeq, sentInWindow, ackErrors, ackErrorSample });
}

/** Waits (bounded) until every receiver saw every sender's last message, then counts what never came. */
async function tally(cmd: TallyCmd): Promise<void> {
  const expected = Object.entries(cmd.lastSeq).map(([s, last]) => [Number(s), last] as const);
  const complete = () =>
    rx.lastSeen.every((seen, i) => !clients[i] || expected.every(([s, last]) => seen[s]! >= last));
  const deadline = nowMs() + cmd.drainMs;
  while (!complete() && nowMs() < deadline) await new Promise((r) => setTimeout(r, 20));
  let missingTail = 0;
  rx.lastSeen.forEach((seen, i) => {
    if (clients[i]) for (const [s, last] of expected) missingTail += Math.max(0, last - seen[s]!);
  });
  reply({
    t: 'tally',
    step: cmd.step,
    windowDeliveries: rx.windowDeliveries,
    deliveries: rx.deliveries,
    lost: rx.gaps + missingTail,
    duplicated: rx.duplicated,
    latencies: rx.latencies,
    maxLatency: rx.maxLatency,
  });
}

process.on('message', (cmd: WorkerCmd) => {
  const run = async () => {
    switch (cmd.t) {
      case 'connect':
        return connect(cmd);
      case 'step':
        return step(cmd);
      case 'tally':
        return tally(cmd);
      case 'status':
        return reply({
          t: 'status',
          connected: clients.reduce((n, c) => n + (c?.connected() ? 1 : 0), 0),
          total: clients.length,
        });
      case 'reset':
        for (const c of clients.splice(0)) c?.close();
        rx.lastSeen = [];
        return reply({ t: 'reset' });
    }
  };
  run().catch((err: unknown) =>
    reply({ t: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
// Modules are loaded: from now on a command is handled at once, so that no measurement includes the start-up.
reply({ t: 'ready' });
