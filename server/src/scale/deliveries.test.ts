import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { acceptRemote, DeliveryLog } from './deliveries.js';

/** The two things the log reads of Socket.IO's adapter: its rooms, and the `delete-room` event. */
function localRooms(...names: string[]) {
  const adapter = Object.assign(new EventEmitter(), { rooms: new Map<string, Set<string>>() });
  for (const name of names) adapter.rooms.set(name, new Set(['socket-1']));
  return adapter;
}

const broadcast = (roomId: number, id: string, uid = 'other') => ({
  uid,
  type: 3,
  data: {
    opts: { rooms: [`room:${roomId}`] },
    packet: { type: 2, data: ['message:new', { id, roomId: String(roomId) }], nsp: '/' },
  },
});

const batch = (roomId: number, ids: string[], uid = 'other') => ({
  uid,
  type: 3,
  data: {
    opts: { rooms: [`room:${roomId}`], except: ['clients:single-messages'] },
    packet: {
      type: 2,
      data: [
        'messages:new',
        { roomId: String(roomId), messages: ids.map((id) => ({ id, roomId: String(roomId) })) },
      ],
      nsp: '/',
    },
  },
});
const idsOf = (m: ReturnType<typeof batch>) =>
  (m.data.packet.data[1] as { messages: { id: string }[] }).messages.map((x) => x.id);

describe('DeliveryLog', () => {
  it('records each message of a batch, and drops from it (or drops it) what local sockets already got', () => {
    const log = new DeliveryLog(5_000);
    log.watch(localRooms('room:1'));
    expect(log.deliverFilled(1, '11')).toBe(true);
    const partly = batch(1, ['10', '11', '12']);
    expect(acceptRemote(log, partly)).toBe(true);
    expect(idsOf(partly)).toEqual(['10', '12']);
    expect(log.deliver(1, '12')).toBe(false);
    const seen = batch(1, ['10', '12']);
    expect(acceptRemote(log, seen)).toBe(false);
    const fresh = batch(1, ['13', '14']);
    expect(acceptRemote(log, fresh)).toBe(true);
    expect(idsOf(fresh)).toEqual(['13', '14']);
    // A batch with a request id (an acked broadcast) or for several rooms is not one of ours: untouched.
    expect(
      acceptRemote(log, { ...batch(1, ['10']), data: { ...batch(1, ['10']).data, requestId: 'r' } }),
    ).toBe(true);
  });

  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it('delivers each id once, and only records rooms with local sockets', () => {
    const rooms = localRooms('room:1');
    const log = new DeliveryLog(5_000);
    log.watch(rooms);
    expect(log.deliver(1, '10')).toBe(true);
    expect(log.deliver('1', '10')).toBe(false);
    expect(acceptRemote(log, broadcast(1, '10'))).toBe(false);
    expect(acceptRemote(log, broadcast(1, '11'))).toBe(true);
    // No local socket in room 2: nothing to remember, always delivered.
    expect(log.deliver(2, '20')).toBe(true);
    expect(log.deliver(2, '20')).toBe(true);
    // Other cluster messages pass untouched.
    expect(acceptRemote(log, { uid: 'x', type: 4, data: {} })).toBe(true);
    expect(log.floors()).toEqual({ known: new Map([[1, 9]]), unknown: [] });
  });

  it('settles after settleMs, except while an outage is held, and forgets rooms left', () => {
    const rooms = localRooms('room:1', 'room:2');
    const log = new DeliveryLog(5_000);
    log.watch(rooms);
    log.deliver(1, '10');
    log.deliver(1, '12');
    vi.advanceTimersByTime(6_000);
    log.deliver(1, '13'); // settles 10 and 12
    expect(log.floors()).toEqual({ known: new Map([[1, 12]]), unknown: [2] });
    // A late copy of a settled id is not in `recent` any more: the floor is what protects it from a fill.
    expect(log.deliver(1, '12')).toBe(true);

    log.hold();
    vi.advanceTimersByTime(60_000);
    log.deliver(2, '30');
    expect(log.deliver(1, '13')).toBe(false); // still remembered during the outage
    expect(log.floors().known.get(1)).toBe(12);
    log.release();
    expect(log.floors().known.get(1)).toBe(13);

    rooms.rooms.delete('room:1');
    rooms.emit('delete-room', 'room:1');
    expect(log.floors().known.has(1)).toBe(false);
  });

  it('remembers what a fill delivered for longer than settleMs', () => {
    const log = new DeliveryLog(5_000, 100, 60_000);
    log.watch(localRooms('room:1'));
    expect(log.deliverFilled(1, '40')).toBe(true);
    vi.advanceTimersByTime(10_000);
    log.deliver(1, '41');
    expect(log.deliver(1, '40')).toBe(false);
    vi.advanceTimersByTime(60_000);
    log.deliverFilled(1, '42');
    expect(log.deliver(1, '40')).toBe(true);
  });

  it('gives up (overflowed) past its cap during an outage, and starts afresh once released', () => {
    const log = new DeliveryLog(5_000, 3);
    log.watch(localRooms('room:1'));
    log.hold();
    for (const id of ['1', '2', '3', '4']) expect(log.deliver(1, id)).toBe(true);
    expect(log.overflowed).toBe(true);
    log.release();
    expect(log.overflowed).toBe(false);
    expect(log.floors()).toEqual({ known: new Map(), unknown: [1] });
  });
});
