import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as prettier from 'prettier';
import { ROOT } from './server.js';
import type { BenchOptions, ResultRow } from './types.js';

/** The machine and build a run happened on. */
export interface RunInfo {
  date: string;
  mode: BenchOptions['mode'];
  taskset: boolean;
  cpu: string;
  cores: number;
  memGiB: number;
  node: string;
  sha: string;
  database: string;
}

/** What a results file holds: per scenario id, its rows and the run they came from. */
export type ResultsFile = Record<
  string,
  {
    info: RunInfo;
    rows: ResultRow[];
    error?: string;
    /** 1-minute load averages when the scenario started and ended: the machine is shared, this says how much. */
    load?: [number, number];
  }
>;

export const RESULTS_DIR = path.join(ROOT, 'bench/results');
const DOC = path.join(ROOT, 'docs/PERFORMANCE.md');
const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

export function runInfo(opts: BenchOptions): RunInfo {
  let sha = 'unknown';
  try {
    sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    mode: opts.mode,
    taskset: opts.taskset,
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    sha,
    database: opts.pgUrl ? 'SQLite (PostgreSQL where a row says so)' : 'SQLite',
  };
}

const fmt = (v: number | null): string => {
  if (v === null) return '–';
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
};

/** Parley relative to a baseline, oriented so that > 1 always means Parley is better. */
export function ratio(row: ResultRow, baseline: number | null): number | null {
  // A zero or negative value (an RSS that fell while sockets opened) has no meaningful ratio.
  if (row.parley === null || baseline === null || row.parley <= 0 || baseline <= 0) return null;
  return row.higherIsBetter ? row.parley / baseline : baseline / row.parley;
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** The results as a Markdown table. */
export function renderTable(rows: ResultRow[]): string {
  const lines = [
    '| scenario | case | metric | Parley | baselines (ratio) | target | note |',
    '| --- | --- | --- | ---: | --- | --- | --- |',
  ];
  for (const r of rows) {
    const baselines =
      Object.entries(r.baselines)
        .map(([name, v]) => {
          const q = ratio(r, v);
          return `${name} ${fmt(v)}${q === null ? '' : ` (${q.toFixed(2)}x)`}`;
        })
        .join('; ') || '–';
    const target = r.target
      ? `${r.target.text}: ${r.target.met === null ? '?' : r.target.met ? 'met' : 'MISSED'}`
      : '';
    lines.push(
      `| ${[
        r.scenario,
        r.case,
        `${r.metric} (${r.unit}${r.higherIsBetter ? ', higher is better' : ', lower is better'})`,
        fmt(r.parley),
        baselines,
        target,
        r.note ?? '',
      ]
        .map(cell)
        .join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** The table as fixed-width text for the terminal. */
export function renderText(rows: ResultRow[]): string {
  const table = rows.map((r) => [
    r.scenario,
    r.case,
    r.metric,
    fmt(r.parley),
    Object.entries(r.baselines)
      .map(([name, v]) => {
        const q = ratio(r, v);
        return `${name} ${fmt(v)}${q === null ? '' : ` (${q.toFixed(2)}x)`}`;
      })
      .join('; '),
    r.target ? `${r.target.text}: ${r.target.met === null ? '?' : r.target.met ? 'met' : 'MISSED'}` : '',
  ]);
  const head = ['scenario', 'case', 'metric', 'Parley', 'baselines (ratio, >1 = Parley better)', 'target'];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...table.map(line)].join('\n');
}

/** Reads a results file (empty when absent or unreadable). */
export function readResults(file: string): ResultsFile {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ResultsFile;
  } catch {
    return {};
  }
}

/** Merges this run's scenarios into `file` (scenarios not run keep their earlier results) and returns the merge. */
export async function saveResults(file: string, run: ResultsFile): Promise<ResultsFile> {
  mkdirSync(path.dirname(file), { recursive: true });
  const merged = { ...readResults(file), ...run };
  writeFileSync(file, await formatted(file, JSON.stringify(merged, null, 2)));
  return merged;
}

/** `text` as `npm run format:check` expects the file to be, so that a run never leaves the repository failing it. */
async function formatted(file: string, text: string): Promise<string> {
  const config = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(text, { ...config, filepath: file });
}

/** Rewrites the generated part of docs/PERFORMANCE.md from `results`, in registry order. */
export async function writeDoc(results: ResultsFile, order: string[]): Promise<void> {
  const ids = order.filter((id) => results[id]);
  const rows = ids.flatMap((id) => results[id]!.rows);
  const runs = ids.map((id) => {
    const { info, error, load } = results[id]!;
    return (
      `- \`${id}\`: ${info.date}, ${info.mode} mode${info.taskset ? ', taskset' : ''}, git ${info.sha}, ${info.cpu} ` +
      `(${info.cores} cores, ${info.memGiB} GiB), Node ${info.node}` +
      (load ? `, load average ${load[0].toFixed(1)} at start / ${load[1].toFixed(1)} at end` : '') +
      (error ? `; **failed**: ${error}` : '')
    );
  });
  const generated = [
    START,
    '',
    '_Generated by `npm run bench`; do not edit between these markers._',
    '',
    renderTable(rows),
    '',
    'Runs:',
    '',
    ...runs,
    '',
    END,
  ].join('\n');
  const doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : `# Performance\n\n${START}\n${END}\n`;
  const from = doc.indexOf(START);
  const to = doc.indexOf(END);
  const next =
    from >= 0 && to > from
      ? doc.slice(0, from) + generated + doc.slice(to + END.length)
      : `${doc}\n${generated}\n`;
  writeFileSync(DOC, await formatted(DOC, next));
}
