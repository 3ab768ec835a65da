import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Express, type Response } from 'express';

/** Vite writes every bundled file under `assets/` with a content hash in its name: it never changes in place. */
const HASHED_DIR = 'assets';
const YEAR_SEC = 365 * 86400;
/** Files of web/public (robots.txt, favicon.ico): unhashed, so cached briefly. */
const PUBLIC_MAX_AGE_SEC = 3600;

/** A request path whose last segment has an extension: a file, never a client-side route of the web client. */
const LOOKS_LIKE_FILE = /\.[A-Za-z0-9]{1,8}$/;

/**
 * Serves the built web client (`dir`, web/dist): hashed assets cached a year as `immutable`, index.html
 * `no-cache` (a deploy is picked up at the next load), and index.html for every other non-API path without an
 * extension (the SPA fallback). A missing file (a path with an extension) is a 404, not the page. Before the first
 * build, the fallback is a page saying how to build it.
 */
export function serveWebClient(app: Express, dir: string): void {
  const index = path.join(dir, 'index.html');
  const hashed = path.join(dir, HASHED_DIR) + path.sep;
  app.use(
    express.static(dir, {
      index: false,
      maxAge: PUBLIC_MAX_AGE_SEC * 1000,
      setHeaders(res, file) {
        if (file.startsWith(hashed)) res.setHeader('Cache-Control', `public, max-age=${YEAR_SEC}, immutable`);
        else if (file === index) res.setHeader('Cache-Control', 'no-cache');
      },
    }),
  );
  app.get(/^\/(?!api\/|docs|socket\.io\/).*/, (req, res) => {
    if (LOOKS_LIKE_FILE.test(req.path)) return notFound(res);
    res.setHeader('Cache-Control', 'no-cache');
    if (existsSync(index)) return void res.sendFile(index, { cacheControl: false });
    res
      .status(200)
      .type('text')
      .send(
        'Parley is running. The web client is not built yet: run `npm run build` (npm start does it for you).',
      );
  });
}

function notFound(res: Response): void {
  res.status(404).type('text').send('Not found');
}
