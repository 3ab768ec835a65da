// `node bench/tools/event-budget-cost.mjs [events=1000000] [sockets=1000]`: what admitting one socket event costs,
// the hand-written token bucket the event budget used before issue 13 (synchronous) against rate-limiter-flexible's
// RateLimiterMemory as realtime/event-budget.ts now uses it (a promise per event, awaited). Events are spread over
// `sockets` keys, every one admitted (the budget is large), as on a busy server where nobody floods. CPU only: no
// sockets, no server. Prints events/s and µs/event for each, best of 5 rounds.
import { RateLimiterMemory } from 'rate-limiter-flexible';

const events = Number(process.argv[2] ?? 1_000_000);
const sockets = Number(process.argv[3] ?? 1000);
const keys = Array.from({ length: sockets }, (_, i) => `socket-${i}`);
const BURST = 1e9;
const RATE = 30;

/** The bucket as it was (realtime/event-budget.ts before issue 13), state per key in a Map. */
function handWritten() {
  const state = new Map();
  return (key) => {
    const now = Date.now();
    let s = state.get(key);
    if (!s) state.set(key, (s = { tokens: BURST, strikes: 0, at: now }));
    const elapsedSec = (now - s.at) / 1000;
    s.at = now;
    s.tokens = Math.min(BURST, s.tokens + elapsedSec * RATE);
    if (s.tokens >= 1) {
      s.tokens -= 1;
      return;
    }
    throw new Error('refused');
  };
}

async function run(name, admit, awaited) {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    // The limiter is awaited one event at a time, as each socket event awaits it: the promise and the await are
    // part of the cost. The old bucket was called synchronously.
    if (awaited) for (let i = 0; i < events; i++) await admit(keys[i % sockets]);
    else for (let i = 0; i < events; i++) admit(keys[i % sockets]);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  console.log(
    `${name}: ${Math.round(events / best).toLocaleString('en')} events/s, ${((best / events) * 1e6).toFixed(3)} µs/event`,
  );
}

const bucket = handWritten();
await run('hand-written bucket (synchronous)', (key) => bucket(key), false);
const limiter = new RateLimiterMemory({ points: BURST, duration: 10 });
await run('RateLimiterMemory.consume (awaited)', (key) => limiter.consume(key), true);
