/**
 * `npm run bench:abuse`: replay each attack of test/robustness/attacks.ts against gearmand
 * (with -r http for the HTTP attacks) and Gearport, and print side by side the server's
 * peak RSS, whether it survived, and the legitimate caller's success rate and p99 during
 * the attack. Loopback only, bounded: the whole run takes about 3.5 minutes.
 *
 * Safety: gearmand reserves whatever a header declares (gearman-spec 1.1); the oversize
 * attack declares 1 GiB once and 64 MiB twenty times, and sends 4 KiB after each.
 */
import { startGearmand, startGearport, type RunningServer } from '../test/helpers/servers.js';
import { gearAttacks, httpAttacks, isAlive, jobsOf, measureAttack, submitBackgroundJobs, type Attack, type Measured } from '../test/robustness/attacks.js';

const SILENT_TIMEOUT_MS = 2000;
const HTTP_REQUEST_TIMEOUT_MS = 3000;
const KEPT_JOBS = 100;
const KEEP_FN = 'abuse_keep';

/** Gearport with its defaults, except timeouts shortened so the run stays short. */
const gearportArgs = [
  '--silent-timeout', String(SILENT_TIMEOUT_MS),
  '--http-headers-timeout', '2000',
  '--http-request-timeout', String(HTTP_REQUEST_TIMEOUT_MS),
  '--http-wait-timeout', '2000',
];

interface Row {
  server: string;
  measured: Measured;
  keptJobs: number | string;
}

async function start(kind: 'gearmand' | 'gearport'): Promise<RunningServer> {
  const server = kind === 'gearmand' ? await startGearmand({ http: true }) : await startGearport({ http: true, args: gearportArgs });
  await submitBackgroundJobs(server.host, server.port, KEEP_FN, KEPT_JOBS);
  return server;
}

async function runAll(kind: 'gearmand' | 'gearport', attacks: Attack[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const attack of attacks) {
    // A fresh server per attack: gearmand keeps what it allocated, which would blur the next figure.
    const server = await start(kind);
    try {
      process.stderr.write(`  ${kind}: ${attack.name} ...`);
      const measured = await measureAttack(server, attack);
      const keptJobs = isAlive(server.pid)
        ? await jobsOf(server.host, server.port, KEEP_FN).catch((err: Error) => `unreachable (${err.message})`)
        : 'server died';
      process.stderr.write(` ${measured.survived ? 'survived' : 'DIED'} in ${measured.seconds.toFixed(1)} s\n`);
      rows.push({ server: kind, measured, keptJobs });
    } finally {
      await server.stop('SIGKILL');
    }
  }
  return rows;
}

function fmtMiB(bytes: number): string {
  return Number.isFinite(bytes) ? `${Math.round(bytes / 2 ** 20)}` : '-';
}

function render(attacks: Attack[], rows: Row[]): string {
  const header = ['attack', 'server', 'survived', 'RSS before MiB', 'peak RSS MiB', 'legit ok', 'legit p99 ms', 'kept jobs', 'what the attacker saw'];
  const lines: string[][] = [];
  for (const attack of attacks) {
    for (const row of rows.filter((r) => r.measured.attack === attack.name)) {
      const m = row.measured;
      const okPct = m.probe.attempts > 0 ? `${((100 * m.probe.ok) / m.probe.attempts).toFixed(1)}%` : '-';
      const notes = Object.entries(m.notes)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      lines.push([attack.name, row.server, m.survived ? 'yes' : 'NO', fmtMiB(m.baselineRssBytes), fmtMiB(m.peakRssBytes), `${okPct} of ${m.probe.attempts}`, m.probe.p99Ms.toFixed(1), `${row.keptJobs}/${KEPT_JOBS}`, notes]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  const attacks = [
    ...gearAttacks({ silentTimeoutMs: SILENT_TIMEOUT_MS }),
    ...httpAttacks({ slowForMs: HTTP_REQUEST_TIMEOUT_MS, scale: 0.5 }),
  ];
  process.stderr.write('bench:abuse: every attack against gearmand, then against Gearport (loopback)\n');
  const rows = [...(await runAll('gearmand', attacks)), ...(await runAll('gearport', attacks))];
  process.stdout.write(`\nAbuse: ${attacks.length} attacks; legitimate caller = separate process, ECHO (Gearman) or background POST (HTTP) every 20 ms, 2 s timeout\n`);
  process.stdout.write(`Gearport flags: ${gearportArgs.join(' ')} (other limits at their defaults); gearmand: -r http, defaults\n\n`);
  process.stdout.write(render(attacks, rows) + '\n');
  process.stdout.write(`\n(${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
}

await main();
