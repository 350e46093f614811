/**
 * Property-based differential test of the admin text protocol's parsing (gearman-spec 2.1, 2.2):
 * fast-check writes random admin lines to gearmand 1.1.20 and to Gearport and compares the
 * exact reply bytes. Normalized only: the pid, the version string, job handles (`<H1>`...), fds
 * in `workers`, and the order of listing lines (gearmand lists in hash order).
 *
 * The grammar: every command word in any case, unknown words (near misses, a tab inside, bytes
 * 0x01-0xff other than LF and space, up to ~2000 bytes), leading, trailing and repeated spaces,
 * tabs (not separators); per command, missing, extra and malformed arguments: `show` with odd
 * second and third words, `cancel job` with handles that are not quite a job's (a character more
 * or less, other case, a tab), `create function` / `drop function` with odd names (empty,
 * latin1, case variants), `maxqueue` with 0-3 numbers (signs, leading zeros and blanks, no
 * digits, `int` ends and beyond: no submit follows here, so README row 20 cannot show), `verbose` and the listings with arguments; lines ended by LF, CRLF,
 * CR CR LF, with bare CRs inside, empty lines; several lines in one write.
 *
 * Every write is followed by a barrier line (an unknown command `zzbarrier<n>`), and its reply
 * ends what the write produced. Both servers keep one fixed state: function `f` with a running
 * job (taken by worker `wk`) and a queued HIGH one, function `g` with a foreground job whose
 * client stays connected and a LOW background job; runs only add functions (`create function`),
 * and each run ends by dropping those, so runs cannot see each other.
 *
 * Not generated, as README "Compatibility notes" lists them: lines of more than 5 tokens
 * (row 12: gearmand drops the connection), `create function <name>` ended by a bare LF (row 9:
 * gearmand loses the last character; such lines get CRLF instead), `drop function g` in any
 * case (row 10: g has queued jobs), `cancel job` with a real handle (rows 7-8), `shutdown`
 * (row 11). `shutdown`-like words (`shutdow`, `shutdownx`) are generated.
 *
 * A second property checks what `maxqueue` makes of its numbers, which its `OK` does not show:
 * a fresh function, `maxqueue` with 1-3 odd numbers, then six background submits (LOW, NORMAL,
 * HIGH, twice) and which of them the limits refuse.
 *
 * Replay or explore: GEARPORT_ADMIN_FUZZ_SEED=<n>, GEARPORT_ADMIN_FUZZ_RUNS=<n> (the maxqueue
 * property runs a third as many).
 */
import { test } from 'node:test';
import fc from 'fast-check';
import { T } from './harness.js';
import { serverKinds } from '../helpers/server-kinds.js';
import { startServer, type RunningServer, type ServerKind } from '../helpers/servers.js';
import { AdminPeer, ScriptedPeer } from '../helpers/scripted-peer.js';
import { HandleNames, sortListing } from '../helpers/normalize.js';

const SEED = Number(process.env.GEARPORT_ADMIN_FUZZ_SEED ?? 20261201);
const NUM_RUNS = Number(process.env.GEARPORT_ADMIN_FUZZ_RUNS ?? 1500);
const MAXQUEUE_RUNS = Math.max(1, Math.round(NUM_RUNS / 3));
const WAIT_MS = 3000;

// ---- the grammar -----------------------------------------------------------------------

/** A word in a random case mix. */
const anyCase = (word: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }).map((ups) =>
    [...word].map((c, i) => (ups[i] ? c.toUpperCase() : c.toLowerCase())).join(''),
  );

/** Bytes other than NUL, LF and space, as latin1 characters. */
const binaryWord = fc
  .array(fc.integer({ min: 1, max: 255 }).filter((b) => b !== 0x0a && b !== 0x20), { minLength: 1, maxLength: 12 })
  .map((bytes) => Buffer.from(bytes).toString('latin1'));

const KNOWN = ['status', 'workers', 'prioritystatus', 'show', 'cancel', 'create', 'drop', 'maxqueue', 'getpid', 'verbose', 'version'] as const;
const UNKNOWN = ['foo', 'statu', 'statuss', 'shutdow', 'shutdownx', 'stat\tus', 'status\t', '\tstatus', 'gEtPiD2', 'job', 'function', 'unique', 'jobs', 'OK', '.', '-', 'sta\rtus', 'version\r', 'é', 'ÉTAT'] as const;

/** Numbers for `maxqueue`: signs, zeros, blanks before (tab, VT, FF, CR, NBSP), junk after. */
const NUMBERS = ['0', '1', '2', '3', '-1', '-3', '+2', '+-1', '-+1', '02', '003', '-0', '2abc', 'abc', '1.9', '0x2', '\t2', '\v1', '\f3', '\r1', '\xa02', '2147483647', '-2147483648', '99999999999999999999', ''] as const;

/** Function names for create / drop / maxqueue. Lower case only are created (see CREATED). */
const CREATED = ['c1', 'c2', '', 'é', 'x\ty', 'c\r'] as const;
const DROP_NAMES = ['c1', 'C1', 'c2', 'é', 'É', 'x\ty', 'X\tY', 'c\r', 'C\r', '', 'f', 'F', 'nope', 'g2'] as const;
const MAXQUEUE_NAMES = ['f', 'g', 'F', 'nope', 'c1', ''] as const;
/** Not-quite handles: `<H1>` is replaced by the server's real handle of job 1 before sending. */
const HANDLES = ['<H1>0', '<H2>x', '<H1>\t', '\t<H1>', '<H9>', 'H:', '', '-', 'H:nohost:1', '<H3>\r', '<lower:H1>', '<upper:H1>', '<chop:H2>'] as const;
const SHOW_SECOND = ['jobs', 'unique', 'JOBS', 'UnIqUe', 'job', 'uniq', 'jobs\t', 'x', ''] as const;
const SHOW_THIRD = ['jobs', 'JoBs', 'job', 'unique', 'x', ''] as const;
const EXTRA = ['x', 'jobs', '1', '', 'graceful', '\t', 'ÿ'] as const;

const extras = (max: number) => fc.array(fc.constantFrom(...EXTRA), { maxLength: max });

/** The tokens of one line, before separators are chosen. */
const tokensArb: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('status', 'workers', 'prioritystatus', 'getpid', 'verbose', 'version').chain(anyCase), extras(3)).map(([c, e]) => [c, ...e]) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(anyCase('show'), fc.option(fc.constantFrom(...SHOW_SECOND).chain(anyCase), { nil: undefined }), fc.option(fc.constantFrom(...SHOW_THIRD).chain(anyCase), { nil: undefined }), extras(1))
      .map(([c, a, b, e]) => [c, ...(a === undefined ? [] : [a]), ...(a === undefined || b === undefined ? [] : [b]), ...(b === undefined ? [] : e)]),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(anyCase('cancel'), fc.option(fc.constantFrom('job', 'jobs', 'x', '').chain(anyCase), { nil: undefined }), fc.option(fc.constantFrom(...HANDLES), { nil: undefined }), extras(1))
      .map(([c, a, h, e]) => [c, ...(a === undefined ? [] : [a]), ...(a === undefined || h === undefined ? [] : [h]), ...(h === undefined ? [] : e)]),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('create', 'drop').chain(anyCase), fc.option(fc.constantFrom('function', 'func', 'functions').chain(anyCase), { nil: undefined }), extras(1))
      .chain(([c, a, e]) =>
        fc.option(fc.constantFrom(...(c.toLowerCase() === 'create' ? CREATED : DROP_NAMES)), { nil: undefined }).map((n) => [c, ...(a === undefined ? [] : [a]), ...(a === undefined || n === undefined ? [] : [n]), ...(n === undefined ? [] : e)]),
      ),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(anyCase('maxqueue'), fc.option(fc.constantFrom(...MAXQUEUE_NAMES), { nil: undefined }), fc.array(fc.constantFrom(...NUMBERS), { maxLength: 3 }))
      .map(([c, n, nums]) => [c, ...(n === undefined ? [] : [n, ...nums])]),
  },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...UNKNOWN), extras(2)).map(([c, e]) => [c, ...e]) },
  { weight: 1, arbitrary: fc.tuple(binaryWord, extras(2)).map(([c, e]) => [c, ...e]) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 100, max: 2000 }), fc.constantFrom('a', 'S', '\xf0', '\t')).map(([n, c]) => [c.repeat(n)]) },
  { weight: 1, arbitrary: fc.constant<string[]>(['']) },
);

interface Line {
  readonly text: string;
}

const separator = fc.constantFrom(' ', ' ', ' ', '  ', '   ');
const lineArb: fc.Arbitrary<Line> = fc
  .record({
    tokens: tokensArb,
    seps: fc.array(separator, { minLength: 5, maxLength: 5 }),
    lead: fc.constantFrom('', '', '', '', ' ', '  ', '\t'),
    trail: fc.constantFrom('', '', '', '', ' ', '  ', '\t', '\r'),
    ending: fc.constantFrom('\r\n', '\r\n', '\n', '\n', '\r\r\n'),
    bareCr: fc.option(fc.nat(), { freq: 8, nil: undefined }),
  })
  .map(({ tokens, seps, lead, trail, ending, bareCr }) => {
    let body = lead + tokens.map((t, i) => (i === 0 ? t : seps[i - 1]! + t)).join('') + trail;
    if (bareCr !== undefined) {
      const at = bareCr % (body.length + 1);
      body = body.slice(0, at) + '\r' + body.slice(at);
    }
    const words = parsedTokens(body + ending);
    // README row 9: `create function <name>` ended by a bare LF loses a character in gearmand.
    if (words.length === 3 && words[0]!.toLowerCase() === 'create' && words[1]!.toLowerCase() === 'function' && !(body + ending).endsWith('\r\n')) {
      ending = '\r\n';
    }
    return { text: body + ending };
  })
  // README row 12: a sixth token makes gearmand drop the connection.
  .filter((l) => parsedTokens(l.text).length <= 5)
  .filter((l) => {
    const w = parsedTokens(l.text);
    // README row 10: g has queued jobs, so dropping it differs on purpose.
    if (w[0]!.toLowerCase() === 'drop' && w[2]?.toLowerCase() === 'g') return false;
    // README rows 7-8: cancelling a real job differs on purpose (`<H3>\r` before a LF is one).
    return !(w[0]!.toLowerCase() === 'cancel' && /^<H\d+>$/.test(w[2] ?? ''));
  });

/** The name a line creates (`create function <name>`, exactly 3 tokens), if any. */
function createdName(line: string): string | undefined {
  const w = parsedTokens(line);
  return w.length === 3 && w[0]!.toLowerCase() === 'create' && w[1]!.toLowerCase() === 'function' ? w[2] : undefined;
}

/** gearmand's tokens (spec 2.1): up to the LF, one CR before it dropped, split on runs of spaces. */
function parsedTokens(line: string): string[] {
  let body = line.slice(0, line.indexOf('\n'));
  if (body.endsWith('\r')) body = body.slice(0, -1);
  return body.split(/ +/);
}

/** One write: 1-4 lines, under gearmand's 8192-byte receive buffer. */
const writeArb = fc.array(lineArb, { minLength: 1, maxLength: 4 }).filter((ls) => ls.reduce((n, l) => n + l.text.length, 0) < 6000);
const runArb = fc.array(writeArb, { minLength: 1, maxLength: 6 });

// ---- the servers ---------------------------------------------------------------------------

/** Write `text` and a barrier line; return everything received before the barrier's reply. */
async function exchange(admin: AdminPeer, text: string, barrier: string): Promise<string> {
  const end = `ERR UNKNOWN_COMMAND Unknown+server+command${barrier}\r\n`;
  const got = await admin.command(`${text}${barrier}\r\n`, (received) => (received.endsWith(end) ? received.length : -1), WAIT_MS);
  return got.slice(0, -end.length);
}

class Sut {
  server!: RunningServer;
  admin!: AdminPeer;
  version = '';
  readonly names = new HandleNames();
  private peers: ScriptedPeer[] = [];
  private barrier = 0;

  constructor(readonly kind: ServerKind) {}

  /** Start the server and build the fixed state (see the header). */
  async start(): Promise<void> {
    // The same --verbose on both, so `verbose` answers alike (README row 16 is about setup).
    this.server = await startServer(this.kind, { args: this.kind === 'gearport' ? ['--verbose', 'ERROR'] : [] });
    const client = await ScriptedPeer.connect(this.server.port, 'client');
    const worker = await ScriptedPeer.connect(this.server.port, 'worker');
    this.peers = [client, worker];
    const submits: [number, string, string, string][] = [
      [T.SUBMIT_JOB_HIGH_BG, 'f', 'uf1', 'a'],
      [T.SUBMIT_JOB_BG, 'f', 'uf2', 'b'],
      [T.SUBMIT_JOB, 'g', 'ug1', 'c'],
      [T.SUBMIT_JOB_LOW_BG, 'g', '', 'd'],
    ];
    for (const [type, fn, unique, data] of submits) {
      client.send(type, [fn, unique, data]);
      const frame = await client.next(WAIT_MS);
      if (frame.name !== 'JOB_CREATED') throw new Error(`${this.kind}: setup got ${frame.name}`);
      this.names.learn(frame.fields[0]!);
    }
    worker.send(T.SET_CLIENT_ID, ['wk']);
    worker.send(T.CAN_DO, ['f']);
    worker.send(T.GRAB_JOB);
    const assigned = await worker.next(WAIT_MS);
    if (assigned.name !== 'JOB_ASSIGN' || this.names.normalize(assigned.fields[0]!) !== '<H1>') throw new Error(`${this.kind}: setup grab got ${assigned.name}`);
    this.admin = await AdminPeer.connect(this.server.port);
    this.version = (await this.exchange('version\r\n')).replace(/^OK (.*)\n$/, '$1');
  }

  /** Write lines (handle templates filled in) and return the raw replies. */
  exchange(text: string): Promise<string> {
    return exchange(this.admin, this.fill(text), `zzbarrier${++this.barrier}`);
  }

  fill(text: string): string {
    return text.replace(/<(?:(lower|upper|chop):)?(H\d+)>/g, (_, how: string | undefined, name: string) => {
      let handle: string;
      try {
        handle = this.names.handleOf(`<${name}>`);
      } catch {
        handle = `${this.kind === 'gearmand' ? 'H:nohost' : 'H:gp'}:${name}`; // no such job on either
      }
      if (how === 'lower') return handle.toLowerCase();
      if (how === 'upper') return handle.toUpperCase();
      if (how === 'chop') return handle.slice(0, -1);
      return handle;
    });
  }

  /** The replies split one by one and normalized (pid, version, handles, fds, listing order). */
  normalize(raw: string): string[] {
    const out: string[] = [];
    let rest = raw;
    while (rest !== '') {
      let raw1: string;
      if (rest.startsWith('OK') || rest.startsWith('ERR')) {
        const nl = rest.indexOf('\n');
        raw1 = nl === -1 ? rest : rest.slice(0, nl + 1);
      } else {
        const lines = rest.split('\n');
        const dot = lines.indexOf('.');
        raw1 = dot === -1 || dot === lines.length - 1 ? rest : lines.slice(0, dot + 1).join('\n') + '\n';
      }
      rest = rest.slice(raw1.length);
      let reply = raw1.replace(`OK ${this.server.pid}\n`, 'OK <pid>\n').replace(`OK ${this.version}\n`, 'OK <version>\n');
      if (!raw1.startsWith('OK') && !raw1.startsWith('ERR')) {
        reply = sortListing(this.names.normalize(reply).replace(/^\d+ 127\.0\.0\.1 /gm, '<fd> 127.0.0.1 '));
      }
      out.push(reply);
    }
    return out;
  }

  /** Drop the functions a run created (only lower case names are); the replies are not compared. */
  async cleanUp(names: ReadonlySet<string>): Promise<void> {
    await this.exchange([...names].map((n) => `drop function ${n}\r\n`).join(''));
  }

  death(): string | undefined {
    const child = this.server.process;
    if (child.exitCode === null && child.signalCode === null) return undefined;
    return `${this.kind} exited (code ${child.exitCode}, signal ${child.signalCode}); stderr: ${this.server.stderr().slice(-1000)}`;
  }

  async stop(): Promise<void> {
    await this.admin?.close();
    await Promise.all(this.peers.map((p) => p.close()));
    await this.server?.stop();
  }
}

function show(text: string): string {
  return JSON.stringify(text);
}

async function transcriptOf(sut: Sut, writes: readonly (readonly Line[])[]): Promise<string[]> {
  const transcript: string[] = [];
  const created = new Set<string>();
  try {
    for (const lines of writes) {
      for (const l of lines) {
        const name = createdName(l.text);
        if (name !== undefined) created.add(name);
      }
      const text = lines.map((l) => l.text).join('');
      transcript.push(`> ${show(text)}`);
      for (const reply of sut.normalize(await sut.exchange(text))) transcript.push(`< ${show(reply)}`);
    }
    await sut.cleanUp(created);
  } catch (err) {
    transcript.push(`! ${(err as Error).message}${sut.death() === undefined ? '' : `; ${sut.death()}`}`);
  }
  return transcript;
}

function report(label: string, input: string, a: string[], b: string[]): string {
  const n = Math.max(a.length, b.length);
  let first = -1;
  for (let i = 0; i < n && first === -1; i++) if (a[i] !== b[i]) first = i;
  const dump = (name: string, t: string[]) => [`--- ${name}`, ...t.map((l, i) => `${i === first ? '>>' : '  '} ${l}`)].join('\n');
  return [`${label}: gearmand and Gearport differ (seed ${SEED})`, input, dump('gearmand 1.1.20', a), dump('Gearport', b)].join('\n');
}

// ---- the maxqueue probe ----------------------------------------------------------------------

const maxqueueArb = fc.record({
  numbers: fc.array(fc.constantFrom(...NUMBERS.filter((n) => n !== '' && !/^-?\d{10,}$/.test(n.trim()))), { minLength: 1, maxLength: 3 }),
  trailingSpace: fc.boolean(),
})
  // README row 12: the trailing space makes an empty token, and a sixth token drops gearmand's connection.
  .filter((p) => p.numbers.length + (p.trailingSpace ? 1 : 0) <= 3);

/** README row 20: numbers outside a C `int` are read differently on purpose. */
async function maxqueueTranscript(sut: Sut, probe: { numbers: string[]; trailingSpace: boolean }, id: number): Promise<string[]> {
  const fn = `q${id}`;
  const transcript: string[] = [];
  const client = await ScriptedPeer.connect(sut.server.port, 'probe');
  const worker = await ScriptedPeer.connect(sut.server.port, 'drainer');
  try {
    const line = `maxqueue ${fn} ${probe.numbers.join(' ')}${probe.trailingSpace ? ' ' : ''}\r\n`;
    transcript.push(`> ${show(line)}`, ...sut.normalize(await sut.exchange(`create function ${fn}\r\n${line}`)).map((r) => `< ${show(r)}`));
    const types = [T.SUBMIT_JOB_LOW_BG, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH_BG];
    for (let i = 0; i < 6; i++) {
      client.send(types[i % 3]!, [fn, `${fn}-${i}`, '']);
      const frame = await client.next(WAIT_MS);
      transcript.push(`${['LOW', 'NORMAL', 'HIGH'][i % 3]}: ${frame.name}${frame.name === 'ERROR' ? ` ${frame.fields.join(' ')}` : ''}`);
    }
    worker.send(T.CAN_DO, [fn]);
    for (;;) {
      worker.send(T.GRAB_JOB);
      const frame = await worker.next(WAIT_MS);
      if (frame.name !== 'JOB_ASSIGN') break;
      worker.send(T.WORK_COMPLETE, [frame.fields[0]!, '']);
    }
    worker.send(T.CANT_DO, [fn]);
    // An ECHO barrier: the worker's packets are handled before the drop below.
    worker.send(T.ECHO_REQ, ['e']);
    const echo = await worker.next(WAIT_MS);
    if (echo.name !== 'ECHO_RES') throw new Error(`drainer got ${echo.name}`);
    transcript.push(...sut.normalize(await sut.exchange(`drop function ${fn}\r\n`)).map((r) => `< ${show(r)}`));
  } catch (err) {
    transcript.push(`! ${(err as Error).message}${sut.death() === undefined ? '' : `; ${sut.death()}`}`);
  } finally {
    await client.close();
    await worker.close();
  }
  return transcript;
}

// ---- the tests ----------------------------------------------------------------------------

const kinds = serverKinds();
const skip = kinds.find((k) => k.skip !== false)?.skip ?? false;

test(
  `random admin lines (${NUM_RUNS} runs, seed ${SEED}): gearmand and Gearport answer the same bytes`,
  { skip, timeout: 120_000 },
  async () => {
    const gearmand = new Sut('gearmand');
    const gearport = new Sut('gearport');
    try {
      await gearmand.start();
      await gearport.start();
      await fc.assert(
        fc.asyncProperty(runArb, async (writes) => {
          const a = await transcriptOf(gearmand, writes);
          const b = await transcriptOf(gearport, writes);
          const same = a.length === b.length && a.every((l, i) => l === b[i]);
          if (!same) throw new Error(report('admin lines', '', a, b));
          if (gearmand.death() !== undefined || gearport.death() !== undefined) throw new Error(`${gearmand.death() ?? ''} ${gearport.death() ?? ''}`);
        }),
        { seed: SEED, numRuns: NUM_RUNS, includeErrorInReport: true, plugins: [fc.interruptAfterTimeLimit(100_000)] },
      );
    } finally {
      await gearmand.stop();
      await gearport.stop();
    }
  },
);

test(
  `maxqueue numbers (${MAXQUEUE_RUNS} runs, seed ${SEED}): the same limits in gearmand and Gearport`,
  { skip, timeout: 120_000 },
  async () => {
    const gearmand = new Sut('gearmand');
    const gearport = new Sut('gearport');
    let id = 0;
    try {
      await gearmand.start();
      await gearport.start();
      await fc.assert(
        fc.asyncProperty(maxqueueArb, async (probe) => {
          id++;
          const a = await maxqueueTranscript(gearmand, probe, id);
          const b = await maxqueueTranscript(gearport, probe, id);
          const same = a.length === b.length && a.every((l, i) => l === b[i]);
          if (!same) throw new Error(report('maxqueue', show(probe.numbers.join(' ')), a, b));
        }),
        { seed: SEED, numRuns: MAXQUEUE_RUNS, includeErrorInReport: true, plugins: [fc.interruptAfterTimeLimit(100_000)] },
      );
    } finally {
      await gearmand.stop();
      await gearport.stop();
    }
  },
);
