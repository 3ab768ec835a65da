// The IPC messages between the benchmark (bench/lib/loadgen.ts) and its load-generator workers (worker.ts).

export type TargetKind = 'parley' | 'socket.io' | 'ws';

/** Opens `count` sockets (`tokens[i]` authenticates socket i on Parley), at most `concurrency` handshakes at once. */
export interface ConnectCmd {
  t: 'connect';
  url: string;
  kind: TargetKind;
  count: number;
  tokens?: string[];
  concurrency: number;
  timeoutMs: number;
  /** Keep the sockets already open and add these after them (a storm measured in phases). */
  append?: boolean;
  /**
   * Let the client reconnect by itself, with socket.io-client's default back-off (as the web client does), after
   * the server goes away: the restart scenario counts how many are connected again, and when.
   */
  reconnect?: boolean;
}
export interface ConnectedReply {
  t: 'connected';
  ok: number;
  failed: number;
  ms: number;
  errors: string[];
  /** How long each successful handshake took (ms). */
  latencies: number[];
}

/**
 * One step of load: from `startAt` (epoch ms) to `startAt + durationMs`, the sockets `senders` (local indexes, global
 * ids `senderIds`) each send `ratePerSender` messages/s. Deliveries of messages sent before `startAt + warmupMs`
 * are not measured.
 */
export interface StepCmd {
  t: 'step';
  step: number;
  startAt: number;
  durationMs: number;
  warmupMs: number;
  senders: number[];
  senderIds: number[];
  /** Global sender ids run 0..senderCount-1: receivers keep one sequence counter per sender. */
  senderCount: number;
  ratePerSender: number;
  payloadBytes: number;
  roomId?: string;
}
export interface SentReply {
  t: 'sent';
  step: number;
  /** Last sequence number sent, per global sender id (sequences start at 1). */
  lastSeq: Record<number, number>;
  sentInWindow: number;
  ackErrors: number;
  ackErrorSample: string[];
}

/** Every sender's last sequence number: the worker waits (up to `drainMs`) until its receivers saw them all. */
export interface TallyCmd {
  t: 'tally';
  step: number;
  lastSeq: Record<number, number>;
  drainMs: number;
}
export interface TallyReply {
  t: 'tally';
  step: number;
  /** Deliveries of messages sent in the measured window. */
  windowDeliveries: number;
  deliveries: number;
  lost: number;
  duplicated: number;
  /** A uniform sample of the window's latencies (ms), and the exact maximum. */
  latencies: number[];
  maxLatency: number;
}

/** How many of the worker's sockets are connected now, and how many it holds in all. */
export interface StatusCmd {
  t: 'status';
}
export interface StatusReply {
  t: 'status';
  connected: number;
  total: number;
}

/** Closes every socket, so that the same workers can load the next server. */
export interface ResetCmd {
  t: 'reset';
}

export type WorkerCmd = ConnectCmd | StepCmd | TallyCmd | StatusCmd | ResetCmd;
export type WorkerReply =
  | { t: 'ready' }
  | { t: 'reset' }
  | ConnectedReply
  | SentReply
  | TallyReply
  | StatusReply
  | { t: 'error'; message: string };

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** The payload every sender puts in a message: who, which step, which sequence number, when. */
export function encodePayload(
  sender: number,
  step: number,
  seq: number,
  padTo: number,
  at = nowMs(),
): string {
  const head = `${sender}|${step}|${seq}|${at.toFixed(3)}|`;
  return head.length >= padTo ? head : head + 'x'.repeat(padTo - head.length);
}

/** The fields of {@link encodePayload}, or null for a text that is not one. */
export function decodePayload(
  text: string,
): { sender: number; step: number; seq: number; at: number } | null {
  const parts = text.split('|', 4);
  if (parts.length < 4) return null;
  const [sender, step, seq, at] = parts.map(Number) as [number, number, number, number];
  return Number.isFinite(at) ? { sender, step, seq, at } : null;
}
