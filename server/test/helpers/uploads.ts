import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { TestServer } from '../../src/test-support/server.js';
import { waitFor } from './sockets.js';

/*
 * What an in-process server keeps on disk for uploads, for the suites that check nothing is left behind when an
 * upload goes wrong (uploads-faults.test.ts, the hardening suite's disk-full case).
 */

export const uploadsDir = (s: TestServer) => path.join(s.config.dataDir, 'uploads');
export const tmpDir = (s: TestServer) => path.join(uploadsDir(s), 'tmp');
export const tempFiles = (s: TestServer) => readdirSync(tmpDir(s));
export const storedFiles = (s: TestServer) =>
  readdirSync(uploadsDir(s), { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();

/** Files under the uploads directory that this process (the in-process server) still holds open. */
export function openUploadFiles(s: TestServer): string[] {
  const dir = uploadsDir(s);
  const held: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) held.push(target);
    } catch {
      // closed while we looked
    }
  }
  return held;
}

/** Waits until the upload left nothing behind: no temp file, no open descriptor. */
export async function expectNothingLeft(s: TestServer): Promise<void> {
  await waitFor(() => tempFiles(s).length === 0, `the temp directory to be empty (has ${tempFiles(s)})`);
  await waitFor(
    () => openUploadFiles(s).length === 0,
    `the server to close every upload file (holds ${openUploadFiles(s).join(', ')})`,
  );
}
