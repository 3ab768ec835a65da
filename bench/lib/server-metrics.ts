/**
 * A server's own view of one socket event's duration (arrival to ack sent), from its Prometheus histogram
 * `parley_socket_event_duration_seconds` on /metrics (served to loopback). The benchmark's latencies include the
 * transport and the load generator; this says how much of a tail is the server's handling.
 */
export interface EventDurations {
  count: number;
  /** Events that took at most `le` seconds, per bucket bound. */
  atMost: Map<number, number>;
}

export async function eventDurations(url: string, event: string): Promise<EventDurations> {
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
  const text = await res.text();
  const atMost = new Map<number, number>();
  let count = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('parley_socket_event_duration_seconds') || !line.includes(`event="${event}"`))
      continue;
    if (!line.includes('ok="true"')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (line.startsWith('parley_socket_event_duration_seconds_bucket') && le && le !== '+Inf')
      atMost.set(Number(le), value);
    else if (line.startsWith('parley_socket_event_duration_seconds_count')) count = value;
  }
  return { count, atMost };
}

/** "n of N over 5 ms" for the bound given in milliseconds (a bucket bound of the histogram). */
export function overBound(d: EventDurations, ms: number): string {
  const within = d.atMost.get(ms / 1000);
  if (within === undefined) return `no ${ms} ms bucket`;
  const over = d.count - within;
  return `${over} of ${d.count} (${((100 * over) / Math.max(1, d.count)).toFixed(1)} %) over ${ms} ms`;
}
