/** Markdown rendering of bench results. */
import { availableParallelism } from 'node:os';
import type { CellResult, GearmanSectionResult, ServerResult } from './sections/gearman.js';
import type { MeasuredLoad } from './load-runner.js';
import { RATE_CLIENTS, RATE_WARMUP_MS, RATE_WORKERS, type RateSectionResult } from './sections/fixed-rate.js';
import { median } from './stats.js';

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const mib = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : 'n/a');
const ratio = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}x` : 'n/a');

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function cell(server: ServerResult | undefined, scenario: string): CellResult | undefined {
  return server?.cells.find((c) => c.scenario === scenario);
}

/** A run's load when it is a valid figure: measured, and without errors. */
function cleanLoad(run: { readonly load?: MeasuredLoad } | undefined): MeasuredLoad | undefined {
  const load = run?.load;
  return load !== undefined && load.errors === 0 ? load : undefined;
}

/** The valid figures among `runs`. */
function cleanLoads(runs: ReadonlyArray<{ readonly load?: MeasuredLoad }>): MeasuredLoad[] {
  return runs.map(cleanLoad).filter((load): load is MeasuredLoad => load !== undefined);
}

function loadOf(server: ServerResult | undefined, scenario: string): MeasuredLoad | undefined {
  return cleanLoad(cell(server, scenario));
}

/** jobs/s, p50, p99 as three cells ('n/a' where missing, a note where failed). */
function figures(server: ServerResult | undefined, scenario: string): string[] {
  if (server === undefined) return ['n/a', 'n/a', 'n/a'];
  if (server.skipped !== undefined) return [`n/a (${server.skipped})`, 'n/a', 'n/a'];
  const c = cell(server, scenario);
  if (c === undefined) return ['–', '–', '–']; // not run for this server (variant of one phase only)
  if (c.load === undefined) return [`failed`, 'n/a', 'n/a'];
  const errors = c.load.errors > 0 ? ` (${c.load.errors} errors)` : '';
  return [int(c.load.jobsPerSecond) + errors, int(c.load.latency.p50), int(c.load.latency.p99)];
}

/** gearmand with a durable queue; the others keep background jobs in memory only. */
const DURABLE_GEARMAND = 'gearmand-sqlite';

/**
 * The faster gearmand per scenario (issue 2: compare with the faster of default and -t 0);
 * for a durable Gearport's background jobs, gearmand with its durable SQLite queue.
 */
function bestGearmand(result: GearmanSectionResult, scenario: string, durable: boolean): ServerResult | undefined {
  let best: ServerResult | undefined;
  for (const server of result.servers) {
    if (!server.id.startsWith('gearmand') || (server.id === DURABLE_GEARMAND) !== durable) continue;
    const load = loadOf(server, scenario);
    if (load === undefined) continue;
    const bestLoad = best && loadOf(best, scenario);
    if (bestLoad === undefined || load.jobsPerSecond > bestLoad.jobsPerSecond) best = server;
  }
  return best;
}

/**
 * A server's runs of `scenario` in repeat order (each repeat records one run per server and
 * cell, failed ones included): each one's clean load, undefined where it failed or had errors.
 */
function runLoads(server: ServerResult, scenario: string): Array<MeasuredLoad | undefined> {
  return server.runs.filter((r) => r.scenario === scenario).map(cleanLoad);
}

/**
 * Gearport's jobs/s over the faster gearmand's, repeat by repeat. The servers of one repeat
 * run interleaved, so they share the machine's state of the moment; on this shared VM a
 * server's own runs spread by 20-30%, and these pairs show whether a median's verdict holds
 * in every repeat or is a coin toss at parity.
 */
function pairedRatios(result: GearmanSectionResult, scenario: string, gearport: ServerResult | undefined, durable: boolean): number[] {
  const theirs = result.servers.filter((s) => s.id.startsWith('gearmand') && (s.id === DURABLE_GEARMAND) === durable).map((s) => runLoads(s, scenario));
  const ours = gearport === undefined ? [] : runLoads(gearport, scenario);
  return ours.map((load, rep) => {
    const best = Math.max(...theirs.map((runs) => runs[rep]?.jobsPerSecond ?? NaN).filter(Number.isFinite));
    return load !== undefined && best > 0 ? load.jobsPerSecond / best : NaN;
  });
}

function comparisonRow(result: GearmanSectionResult, label: string, scenario: string, gearport: ServerResult | undefined, durable = false): string[] {
  const perRun = pairedRatios(result, scenario, gearport, durable)
    .map((r) => (Number.isFinite(r) ? r.toFixed(2) : 'n/a'))
    .join(' · ');
  const best = bestGearmand(result, scenario, durable);
  const theirs = loadOf(best, scenario);
  const ours = loadOf(gearport, scenario);
  const throughput = ours && theirs ? ours.jobsPerSecond / theirs.jobsPerSecond : NaN;
  const p99 = ours && theirs ? ours.latency.p99 / theirs.latency.p99 : NaN;
  // Targets of issue 2: at least 1.0x the throughput, p99 no worse.
  const verdict = Number.isFinite(throughput) ? (throughput >= 1 && p99 <= 1 ? 'yes' : 'no') : 'n/a';
  const which = best ? (best.id === DURABLE_GEARMAND ? '-t0 -q libsqlite3' : best.id.replace('gearmand-', '-')) : '';
  return [label, which, ...figures(best, scenario), ...figures(gearport, scenario), ratio(throughput), perRun || 'n/a', ratio(p99), verdict];
}

export function renderGearman(result: GearmanSectionResult): string {
  const gearport = result.servers.find((s) => s.id === 'gearport');
  const variants = result.servers.filter((s) => s.id.startsWith('gearport-'));
  const comparison = result.scenarios.flatMap((scenario) => [
    comparisonRow(result, scenario.label, scenario.id, gearport),
    // Gearport's default keeps background jobs durable (SQLite): also set it against gearmand's durable queue.
    ...(scenario.kind === 'background' && result.servers.some((s) => s.id === DURABLE_GEARMAND && cell(s, scenario.id) !== undefined)
      ? [comparisonRow(result, `${scenario.label}, both durable (SQLite)`, scenario.id, gearport, true)]
      : []),
    // Other Gearport configurations get their own row where they ran.
    ...variants.filter((v) => cell(v, scenario.id) !== undefined).map((v) => comparisonRow(result, `${scenario.label}, ${v.label}`, scenario.id, v)),
  ]);
  const raw = result.scenarios.map((scenario) => [
    scenario.label,
    ...result.servers.map((server) => {
      const [rate, p50, p99] = figures(server, scenario.id);
      const load = cell(server, scenario.id)?.load;
      const cpu = load ? ` · cpu ${load.cpu.server.toFixed(2)}/${load.cpu.load.toFixed(2)}/${load.cpu.other.toFixed(2)}` : '';
      return `${rate} · ${p50}/${p99}${cpu}`;
    }),
  ]);
  const ran = (s: ServerResult, kind: string) => result.scenarios.some((sc) => sc.kind === kind && cell(s, sc.id) !== undefined);
  const memory = result.servers.map((s) => [
    s.label,
    ran(s, 'foreground') ? mib(s.peakRssBytes.foreground) : '–',
    ran(s, 'background') ? mib(s.peakRssBytes.background) : '–',
  ]);
  const notes = noiseNotes(result);
  const failures = result.servers.flatMap((s) =>
    s.runs.filter((c) => c.error !== undefined || (c.load?.errors ?? 0) > 0).map((c) => `- ${s.label} ${c.scenario}: ${c.error ?? c.load?.errorNotes.join('; ')}`),
  );
  return [
    '### Gearport vs gearmand (jobs/s; latency p50/p99 in µs; ratio = Gearport / faster gearmand)',
    '',
    table(
      ['scenario', 'gearmand', 'jobs/s', 'p50', 'p99', 'gearport jobs/s', 'p50', 'p99', 'ratio jobs/s', 'ratio per repeat', 'ratio p99', 'target met'],
      comparison,
    ),
    '',
    'Background rows count JOB_CREATED/s; their latency is submit → JOB_CREATED with the window full (mostly queueing).',
    ...notes.map((n) => `\n${n}`),
    '',
    `### Raw figures (median of ${result.repeat} runs, each figure on its own): jobs/s · p50/p99 µs · CPU cores used in the window by server/load generator/everything else`,
    '',
    table(['scenario', ...result.servers.map((s) => s.label)], raw),
    '',
    `Every run's jobs/s and p99 µs, in order: ${spread(result)}`,
    '',
    '### CPU per job (µs, median over the runs): server / load generator',
    '',
    'Where the load generator uses a whole core, jobs/s is its own CPU per job inverted, whichever server runs; the server column is then what compares the servers.',
    '',
    table(['scenario', ...result.servers.map((s) => s.label)], cpuPerJob(result)),
    '',
    '### Peak RSS of the server process (VmHWM at the end of each phase; a fresh process per phase)',
    '',
    table(['server', 'foreground phase', 'background phase'], memory),
    ...(failures.length > 0 ? ['', '### Errors', '', ...failures] : []),
  ].join('\n');
}

/** Per scenario and server: median CPU µs per job of the server and of the load generator. */
function cpuPerJob(result: GearmanSectionResult): string[][] {
  const perJob = (cores: number, jobsPerSecond: number) => (cores * 1e6) / jobsPerSecond;
  return result.scenarios.map((scenario) => [
    scenario.label,
    ...result.servers.map((server) => {
      const loads = cleanLoads(server.runs.filter((r) => r.scenario === scenario.id));
      if (loads.length === 0) return '–';
      const of = (pick: (l: MeasuredLoad) => number) => median(loads.map(pick)).toFixed(1);
      return `${of((l) => perJob(l.cpu.server, l.jobsPerSecond))} / ${of((l) => perJob(l.cpu.load, l.jobsPerSecond))}`;
    }),
  ]);
}

/** Each server's runs per scenario as "jobs/s/p99" lists, so a median's spread can be seen. */
function spread(result: GearmanSectionResult): string {
  const lines = result.scenarios.flatMap((scenario) =>
    result.servers
      .map((server) => {
        const runs = server.runs.filter((r) => r.scenario === scenario.id && r.load !== undefined);
        return runs.length === 0 ? '' : `${scenario.label}, ${server.label}: ${runs.map((r) => `${int(r.load!.jobsPerSecond)}/${int(r.load!.latency.p99)}`).join(' · ')}`;
      })
      .filter((line) => line !== ''),
  );
  return lines.length === 0 ? 'none' : '\n\n' + lines.map((line) => `- ${line}`).join('\n');
}

/** Best-effort rendering of a result whose shape another module decides. */
export function renderUnknown(runs: { label: string; result: unknown }[]): string {
  // A run returning a list (e.g. one entry per library) becomes one row per entry.
  const rows = runs.flatMap(({ label, result }) => (Array.isArray(result) ? result.map((entry: unknown) => ({ label, result: entry })) : [{ label, result }]));
  const flat = rows.map(({ label, result }) => ({ label, fields: flatten(result) }));
  const keys = [...new Set(flat.flatMap((r) => Object.keys(r.fields)))];
  if (keys.length === 0 || keys.length > 12) return '```json\n' + JSON.stringify(rows, null, 2) + '\n```';
  return table(['run', ...keys], flat.map((r) => [r.label, ...keys.map((k) => r.fields[k] ?? '')]));
}

function flatten(value: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (typeof value === 'number') {
    out[prefix || 'value'] = Number.isInteger(value) ? value.toLocaleString('en-US') : value.toFixed(2);
  } else if (typeof value === 'string') {
    out[prefix || 'value'] = value;
  } else if (!Array.isArray(value) || value.length <= 8) {
    out[prefix || 'value'] = JSON.stringify(value);
  }
  return out;
}

/** Warnings that make a reader distrust the figures for the right reason. */
function noiseNotes(result: GearmanSectionResult): string[] {
  const loads = result.servers.flatMap((s) => s.runs.flatMap((r) => (r.load ? [r.load] : [])));
  if (loads.length === 0) return [];
  const notes: string[] = [];
  const other = loads.reduce((sum, l) => sum + (Number.isFinite(l.cpu.other) ? l.cpu.other : 0), 0) / loads.length;
  if (other > 0.25) {
    notes.push(`**Noisy machine:** other processes used ${other.toFixed(2)} cores on average during the measured windows (of ${cpuCount()}); absolute figures are low, ratios are less reliable.`);
  }
  const saturated = loads.filter((l) => l.cpu.load > 0.9).length;
  if (saturated > 0) {
    notes.push(`**Load generator saturated** (> 0.9 core) in ${saturated} of ${loads.length} runs: those figures are lower bounds of the server's capacity.`);
  }
  return notes;
}

function cpuCount(): number {
  return availableParallelism();
}

/** Rate section: per server and rate, medians of jobs/s, CPU share, CPU µs per job, p50/p99. */
export function renderRate(result: RateSectionResult): string {
  if (result.skipped !== undefined) return `skipped: ${result.skipped}`;
  const cellOf = (server: string, rate: number): string[] => {
    const loads = cleanLoads(result.runs.filter((r) => r.server === server && r.rate === rate));
    if (loads.length === 0) return ['failed', '', '', ''];
    const of = (pick: (l: MeasuredLoad) => number) => median(loads.map(pick));
    const cpu = of((l) => l.cpu.server);
    return [int(of((l) => l.jobsPerSecond)), Number.isFinite(cpu) ? (cpu * 100).toFixed(1) : 'n/a', int(of((l) => (l.cpu.server * 1e6) / l.jobsPerSecond)), `${int(of((l) => l.latency.p50))}/${int(of((l) => l.latency.p99))}`];
  };
  const header = ['jobs/s asked', ...result.servers.flatMap((s) => [`${s} jobs/s`, 'CPU % of a core', 'CPU µs/job', 'p50/p99 µs'])];
  const rows = result.rates.map((rate) => [int(rate), ...result.servers.flatMap((s) => cellOf(s, rate))]);
  const failures = result.runs.filter((r) => r.error !== undefined || (r.load?.errors ?? 0) > 0).map((r) => `- ${r.server} ${r.rate}/s: ${r.error ?? r.load?.errorNotes.join('; ')}`);
  return [
    `Paced foreground jobs (${RATE_WORKERS} workers, ${RATE_CLIENTS} clients, ${RATE_WARMUP_MS / 1000} s warm-up), median of ${result.repeat} runs; server CPU from /proc over the window.`,
    '',
    table(header, rows),
    ...(failures.length > 0 ? ['', ...failures] : []),
  ].join('\n');
}

/** HTTP front: one row per scenario, gearmand beside Gearport, ratio of requests/s. */
export function renderHttp(result: { skipped?: string; scenarios?: readonly string[]; servers?: readonly string[]; runs?: { server: string; scenario: string; result?: { requestsPerSec: number; p50Ms: number; p99Ms: number; errors: number }; serverCpuMicrosPerRequest?: number; error?: string }[] }): string {
  if (result.skipped !== undefined) return `skipped: ${result.skipped}`;
  const runs = result.runs ?? [];
  const servers = result.servers ?? [];
  const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
  const rows = (result.scenarios ?? []).map((scenario) => {
    const found = servers.map((server) => runs.find((r) => r.server === server && r.scenario === scenario));
    const cells = found.flatMap((r) =>
      r?.result
        ? [int(r.result.requestsPerSec) + (r.result.errors > 0 ? ` (${r.result.errors} errors)` : ''), ms(r.result.p50Ms), ms(r.result.p99Ms), int(r.serverCpuMicrosPerRequest ?? NaN)]
        : ['failed', 'n/a', 'n/a', 'n/a'],
    );
    const [first, second] = found;
    const rate = first?.result && second?.result ? second.result.requestsPerSec / first.result.requestsPerSec : NaN;
    const p99 = first?.result && second?.result ? second.result.p99Ms / first.result.p99Ms : NaN;
    return [scenario, ...cells, ...(servers.length === 2 ? [ratio(rate), ratio(p99)] : [])];
  });
  const header = ['scenario', ...servers.flatMap((s) => [`${s} req/s`, 'p50 ms', 'p99 ms', 'server CPU µs/req']), ...(servers.length === 2 ? ['ratio req/s', 'ratio p99'] : [])];
  const failures = runs.filter((r) => r.error !== undefined).map((r) => `- ${r.server} ${r.scenario}: ${r.error}`);
  return [
    'POST /reverse with a 12-byte body; 1w/4w: 1 or 4 raw reverse workers; background rows send X-Gearman-Background. Ratios: Gearport / gearmand (p99 below 1.00x is better).',
    '',
    table(header, rows),
    ...(failures.length > 0 ? ['', ...failures] : []),
  ].join('\n');
}

