/**
 * How the web client retries a lost connection (socket.io-client Manager options). Exponential from 0.5 s to 4 s,
 * each delay spread by ±50 % so that a whole audience dropped at once (a server restart) does not come back in
 * one instant. The hardening suite's reconnect-storm case connects its clients with these same options.
 */
export const RECONNECT_OPTIONS = {
  reconnectionDelay: 500,
  reconnectionDelayMax: 4000,
  randomizationFactor: 0.5,
} as const;

/** After a handshake refused for too many connections: wait this long, spread by ±50 %, before trying again. */
export const RATE_LIMITED_RETRY_MS = 5000;

/** `ms` spread uniformly over ±50 %. */
export const jittered = (ms: number): number => Math.round(ms * (0.5 + Math.random()));
