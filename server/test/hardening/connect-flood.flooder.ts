import { Socket as EngineSocket } from 'engine.io-client';

/*
 * The flooding client of cases S6 and S7, run as a process of its own (its CPU must not be the test's). Traffic
 * goes to the URL given, which the test makes 127.0.0.1; every loop is bounded in count and time.
 *   node --import tsx connect-flood.flooder.ts connect URL TOKEN RATE DURATION_MS PERIOD_MS
 *     One engine.io connection sending Socket.IO CONNECT packets at RATE per second; when the server closes it, a
 *     new one (as an attacker would), for DURATION_MS.
 *   node --import tsx connect-flood.flooder.ts engine URL COUNT RATE DURATION_MS PERIOD_MS
 *     Opens up to COUNT engine.io connections, RATE per second (at most 200 opening at once), that never send a
 *     CONNECT, and holds them until DURATION_MS is over.
 * The flood runs for PERIOD_MS, pauses for PERIOD_MS, and so on, counted from "ready": the test compares other users'
 * latency in the flooded periods with the quiet ones in between, so that whatever else loads the machine weighs on
 * both alike. Prints "ready" when it starts, then one JSON line of counts when done.
 */

const [mode, url, ...rest] = process.argv.slice(2) as [string, string, ...string[]];
const IN_FLIGHT = 200;
const MAX_CONNECTIONS = 2000;

function open(): EngineSocket {
  return new EngineSocket(url, { transports: ['websocket'], path: '/socket.io/' });
}

const since = (t: number) => Math.round(performance.now() - t);

let startedAt = 0;
let period = Infinity;
/** Whether this is a flooded period (the first one is). */
const flooding = () => Math.floor((Date.now() - startedAt) / period) % 2 === 0;
/** Resolves at the start of the next flooded period (at once within one). */
const nextFlood = () =>
  new Promise((resolve) =>
    setTimeout(resolve, flooding() ? 0 : period - ((Date.now() - startedAt) % period)),
  );
function ready(periodMs: number): void {
  startedAt = Date.now();
  period = periodMs;
  process.stdout.write('ready\n');
}

async function connectFlood(token: string, rate: number, durationMs: number, periodMs: number) {
  const counts = {
    connections: 0,
    opened: 0,
    sent: 0,
    /** From the first CONNECT on a connection to the server closing it; one entry per connection closed. */
    cutOffMs: [] as number[],
    refused: 0,
  };
  const packet = `0${JSON.stringify({ token })}`;
  const end = Date.now() + durationMs;
  ready(periodMs);
  while (Date.now() < end && counts.connections < MAX_CONNECTIONS) {
    await nextFlood();
    if (Date.now() >= end) break;
    counts.connections++;
    const conn = open();
    await new Promise<void>((resolve) => {
      let firstAt = 0;
      let timer: NodeJS.Timeout | undefined;
      conn.on('open', () => {
        counts.opened++;
        const perTick = rate / 100;
        let owed = 0;
        timer = setInterval(() => {
          if (Date.now() >= end) {
            clearInterval(timer);
            conn.close();
            return;
          }
          if (!flooding()) return;
          for (owed += perTick; owed >= 1; owed--) {
            if (!firstAt) firstAt = performance.now();
            counts.sent++;
            conn.send(packet);
          }
        }, 10);
      });
      conn.on('error', () => {
        if (!firstAt) counts.refused++;
      });
      conn.on('close', () => {
        clearInterval(timer);
        if (firstAt && Date.now() < end) counts.cutOffMs.push(since(firstAt));
        // Refused outright: the next try waits a little, as any client would have to.
        setTimeout(resolve, firstAt ? 0 : 50);
      });
    });
  }
  return counts;
}

async function engineFlood(count: number, rate: number, durationMs: number, periodMs: number) {
  const counts = { attempted: 0, opened: 0, refused: 0, closedByServer: 0, firstRefusalMs: -1 };
  const held: EngineSocket[] = [];
  const start = performance.now();
  const end = Date.now() + durationMs;
  ready(periodMs);
  let inFlight = 0;
  let done = false;
  const attempt = () => {
    counts.attempted++;
    inFlight++;
    const conn = open();
    let settled = false;
    let opened = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      inFlight--;
    };
    conn.on('open', () => {
      opened = true;
      counts.opened++;
      held.push(conn);
      settle();
    });
    conn.on('error', () => {
      if (counts.firstRefusalMs < 0) counts.firstRefusalMs = since(start);
      counts.refused++;
      settle();
    });
    conn.on('close', () => {
      if (!settled) return settle();
      if (opened && !done) counts.closedByServer++;
    });
  };
  // RATE new connections per second (IN_FLIGHT at most opening at once) until COUNT were tried.
  await new Promise<void>((resolve) => {
    let owed = 0;
    const timer = setInterval(() => {
      if (counts.attempted >= count || Date.now() >= end) {
        clearInterval(timer);
        return resolve();
      }
      for (owed += rate / 100; owed >= 1 && inFlight < IN_FLIGHT && counts.attempted < count; owed--)
        attempt();
    }, 10);
  });
  // Hold what was opened until the end, then go.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, end - Date.now())));
  done = true;
  for (const c of held) c.close();
  return counts;
}

const counts =
  mode === 'connect'
    ? await connectFlood(rest[0]!, Number(rest[1]), Number(rest[2]), Number(rest[3]))
    : await engineFlood(Number(rest[0]), Number(rest[1]), Number(rest[2]), Number(rest[3]));
process.stdout.write(JSON.stringify(counts) + '\n');
process.exit(0);
