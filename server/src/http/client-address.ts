import type { IncomingMessage } from 'node:http';

/** Express's compiled `trust proxy` setting (`app.get('trust proxy fn')`): may hop `i` at `addr` be believed? */
export type TrustFn = (addr: string, i: number) => boolean;

/**
 * The client's address as Express's `req.ip` would give it, for requests that never pass through Express (the
 * Socket.IO handshake): the TCP peer, then X-Forwarded-For from the nearest hop outwards for as long as each hop
 * is a trusted proxy. With TRUST_PROXY unset nothing is trusted, so a forged header changes nothing.
 */
export function clientAddress(req: IncomingMessage, trust: TrustFn): string {
  const chain = [req.socket.remoteAddress ?? ''];
  const forwarded = req.headers['x-forwarded-for'];
  if (typeof forwarded === 'string')
    chain.push(
      ...forwarded
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean)
        .reverse(),
    );
  let i = 0;
  while (i < chain.length - 1 && trust(chain[i]!, i)) i++;
  return chain[i]!;
}
