/**
 * `npm run bench` (issue 2): Gearport against gearmand on this machine, one run, one load
 * generator. One function per section; each returns JSON-serialisable results and a
 * markdown rendering. Progress goes to stderr, the report to stdout, and the raw results
 * to dist/bench-results.json.
 *
 * Env: BENCH_SECONDS (window per cell, default 3), BENCH_WARMUP (default 0.5),
 * BENCH_SECTIONS (gearman,rate,client,store,http), BENCH_RATES (jobs/s of the rate section, default 200,1000,5000), BENCH_SERVERS (gearmand-t4,gearmand-t0,gearmand-sqlite,gearport,gearport-busy-poll,gearport-memory),
 * BENCH_SCENARIOS (e.g. fg-w4-c64,bg), BENCH_REPEAT (runs per cell, median reported, default 3),
 * BENCH_LOAD_PROCESSES (1 or 2), BENCH_GEARPORT_ARGS, BENCH_STORES, BENCH_PIN=1 (gearman and rate sections:
 * servers on CPU 1, load on CPU 0).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { cpus } from 'node:os';
import { repoRoot } from '../test/helpers/servers.js';
import { benchConfig, type BenchConfig } from './config.js';
import { renderGearman, renderHttp, renderRate, renderUnknown } from './report.js';
import { gearmanSection, type GearmanSectionResult } from './sections/gearman.js';
import { clientSection, type ClientSectionResult } from './sections/client.js';
import { rateSection, type RateSectionResult } from './sections/fixed-rate.js';
import { storeSection, type StoreSectionResult } from './sections/store.js';
import { httpSection, type HttpSectionResult } from './sections/http.js';

type Log = (line: string) => void;

interface Section<R> {
  readonly title: string;
  run(config: BenchConfig, log: Log): Promise<R>;
  render(result: R): string;
}

function renderRuns(result: { skipped?: string; runs?: { label: string; result?: unknown; error?: string }[] }): string {
  if (result.skipped !== undefined) return `skipped: ${result.skipped}`;
  const runs = result.runs ?? [];
  const ok = runs.filter((r) => r.error === undefined).map((r) => ({ label: r.label, result: r.result }));
  const failed = runs.filter((r) => r.error !== undefined).map((r) => `- ${r.label}: failed: ${r.error}`);
  return [ok.length > 0 ? renderUnknown(ok) : '', ...failed].filter(Boolean).join('\n\n');
}

const sections: Record<string, Section<unknown>> = {
  gearman: { title: 'Gearman protocol: Gearport vs gearmand', run: gearmanSection, render: (r) => renderGearman(r as GearmanSectionResult) },
  rate: { title: 'Server CPU at a fixed rate: Gearport vs gearmand', run: rateSection, render: (r) => renderRate(r as RateSectionResult) },
  client: { title: 'TypeScript client library round trips', run: clientSection, render: (r) => renderRuns(r as ClientSectionResult) },
  store: { title: 'Durable store throughput', run: storeSection, render: (r) => renderRuns(r as StoreSectionResult) },
  http: { title: 'HTTP front: Gearport vs gearmand -r http', run: httpSection, render: (r) => renderHttp(r as HttpSectionResult) },
};

async function main(): Promise<void> {
  const config = benchConfig;
  const log: Log = (line) => console.error(line);
  const started = Date.now();
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
  log(`bench: ${config.seconds} s per cell (+${config.warmupSeconds} s warm-up), sections ${config.sections.join(',')}, ${machine}`);
  const results: Record<string, unknown> = {};
  const rendered: string[] = [`## npm run bench — ${new Date().toISOString()}`, '', `${machine}; ${config.seconds} s per cell after ${config.warmupSeconds} s warm-up; load generator in ${config.loadProcesses} child process(es); Gearport runs with NODE_OPTIONS='${config.gearportNodeOptions}'${config.pin ? '; pinned (BENCH_PIN): servers on CPU 1, load on CPU 0' : ''}.`];
  for (const name of config.sections) {
    const section = sections[name];
    if (section === undefined) throw new Error(`unknown section ${name} (known: ${Object.keys(sections).join(', ')})`);
    log(`--- ${section.title}`);
    const result = await section.run(config, log);
    results[name] = result;
    rendered.push('', `## ${section.title}`, '', section.render(result));
  }
  const elapsed = (Date.now() - started) / 1000;
  rendered.push('', `Total bench time ${elapsed.toFixed(0)} s.`);
  const file = resolve(repoRoot, config.resultsFile);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), machine, config, elapsedSeconds: elapsed, results }, null, 2));
  console.log(rendered.join('\n'));
  log(`results written to ${config.resultsFile}`);
}

await main();
