import type { Scenario } from '../lib/types.js';

/*
 * Every scenario, in the order of issue 7. A scenario module exports one Scenario (default or named); a module that
 * does not exist yet is reported as missing rather than breaking the run.
 */

export interface RegistryEntry {
  id: string;
  title: string;
  load(): Promise<Scenario | null>;
}

const isScenario = (v: unknown): v is Scenario =>
  typeof v === 'object' && v !== null && typeof (v as Scenario).run === 'function' && 'id' in v;

/** Imports `./<file>.js` and returns the Scenario it exports, or null when the module is absent. */
async function optional(file: string): Promise<Scenario | null> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(`./${file}.js`)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(`${file}.`)) return null;
    throw err;
  }
  return Object.values(mod).find(isScenario) ?? null;
}

const entry = (id: string, title: string, file = id): RegistryEntry => ({
  id,
  title,
  load: () => optional(file),
});

export const REGISTRY: RegistryEntry[] = [
  entry('fanout', '1. Fan-out ladder'),
  entry('idle', '2. Idle authenticated sockets'),
  entry('ingest', '3. Ingest'),
  entry('history', '4. History'),
  entry('connect', '5. Connect storm'),
  entry('login', '6. Login'),
  entry('coldstart', '7. Cold start'),
  entry('restart', '8. Restart'),
  entry('search', '9. Search'),
];
