// `npm run bench [-- --quick|--smoke] [--taskset] [--only=fanout,idle] [--write-doc]`: runs the scenarios of issue 7
// against Parley and the baselines, prints a table and records it (see bench/README.md).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REGISTRY } from './scenarios/index.js';
import { RESULTS_DIR, renderText, runInfo, saveResults, writeDoc, type ResultsFile } from './lib/report.js';
import { buildIfStale } from './lib/build.js';
import type { BenchOptions } from './lib/types.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const unknown = args.filter((a) => !/^--(quick|smoke|full|taskset|write-doc|only=.*)$/.test(a));
if (unknown.length) {
  console.error(
    `unknown argument(s): ${unknown.join(' ')}\nusage: bench/run.ts [--quick|--smoke] [--taskset] [--only=id,...] [--write-doc]`,
  );
  process.exit(2);
}
const mode: BenchOptions['mode'] = flag('smoke') ? 'smoke' : flag('quick') ? 'quick' : 'full';
const only = value('only')?.split(',').filter(Boolean);
const unknownIds = only?.filter((id) => !REGISTRY.some((e) => e.id === id)) ?? [];
if (unknownIds.length) {
  console.error(
    `unknown scenario(s): ${unknownIds.join(', ')}; known: ${REGISTRY.map((e) => e.id).join(', ')}`,
  );
  process.exit(2);
}
if (flag('taskset') && !existsSync('/usr/bin/taskset')) {
  console.error('--taskset: /usr/bin/taskset is not installed (apt-get install util-linux)');
  process.exit(2);
}

// Interrupted: exit, so that the exit handler of lib/proc.ts ends every server and worker this run started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

const transcript: string[] = [];
const log = (line: string) => {
  transcript.push(line);
  console.log(line);
};
buildIfStale(log);
const opts: BenchOptions = {
  mode,
  taskset: flag('taskset'),
  pgUrl: process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || undefined,
  log,
};
const info = runInfo(opts);
log(
  `Parley benchmarks, ${mode} mode${opts.taskset ? ', servers on core 0 and load generators on core 1' : ''}`,
);
log(
  `${info.cpu}, ${info.cores} cores, Node ${info.node}, git ${info.sha}${opts.pgUrl ? ', PostgreSQL available' : ''}`,
);

const run: ResultsFile = {};
let failed = 0;
const started = performance.now();
for (const entry of REGISTRY.filter((e) => !only || only.includes(e.id))) {
  const scenario = await entry.load();
  if (!scenario) {
    log(`\n== ${entry.title}: not available (bench/scenarios/${entry.id}.ts is missing)`);
    continue;
  }
  const loadBefore = os.loadavg()[0]!;
  log(`\n== ${scenario.title} (load average ${loadBefore.toFixed(1)} on ${os.cpus().length} cores)`);
  const t0 = performance.now();
  try {
    run[entry.id] = { info, rows: await scenario.run(opts), load: [loadBefore, os.loadavg()[0]!] };
  } catch (err) {
    // A scenario that throws is a broken harness or a server that would not start: the run fails, the rest still run.
    failed++;
    const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    log(`!! ${entry.id} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    run[entry.id] = { info, rows: [], error: message, load: [loadBefore, os.loadavg()[0]!] };
  }
  log(`   (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

const rows = Object.values(run).flatMap((r) => r.rows);
log(
  `\nResults (${mode}, ${((performance.now() - started) / 1000).toFixed(0)} s; ratios are Parley/baseline, `,
);
log(`inverted for lower-is-better metrics, so > 1 always means Parley does better):\n`);
log(renderText(rows));

mkdirSync(RESULTS_DIR, { recursive: true });
const merged = await saveResults(path.join(RESULTS_DIR, `${mode}.json`), run);
writeFileSync(path.join(RESULTS_DIR, `${mode}.log`), `${transcript.join('\n')}\n`);
if (mode === 'full' || flag('write-doc')) {
  await writeDoc(
    merged,
    REGISTRY.map((e) => e.id),
  );
  log('\ndocs/PERFORMANCE.md updated');
}
log(`results: bench/results/${mode}.json, transcript: bench/results/${mode}.log`);
if (failed) {
  console.error(`${failed} scenario(s) failed`);
  process.exit(1);
}
// Nothing should be left running, but a stray handle must not keep CI waiting.
process.exit(0);
