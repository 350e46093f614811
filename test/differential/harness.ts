/**
 * Differential harness: each scenario runs once per server (gearmand 1.1.20 and Gearport), on a
 * fresh server, and asserts what its peers see against one literal expectation — exact packet
 * payloads and admin bytes, with only job handles, fds, pids and versions normalized away.
 * Where Gearport deliberately differs from gearmand (gearman-spec 7, group B) the scenario
 * states both expectations through `t.per({ gearmand, gearport })` with the spec item cited.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer, type ServerKind } from '../helpers/servers.js';
import { AdminPeer, ScriptedPeer, describeFrame, type ReceivedFrame } from '../helpers/scripted-peer.js';
import { serverKinds } from '../helpers/server-kinds.js';
import { HandleNames, normalizeWorkersListing, sortListing } from '../helpers/normalize.js';
import { PacketType, type Field } from '../../src/protocol/index.js';

/** Packets that carry a job handle as their first field: learning them names handles. */
const HANDLE_FIRST = new Set<string>(['JOB_CREATED', 'JOB_ASSIGN', 'JOB_ASSIGN_UNIQ', 'JOB_ASSIGN_ALL']);

export interface ServerArgs {
  gearmand?: string[];
  gearport?: string[];
}

export class ScenarioContext {
  readonly kind: ServerKind;
  readonly server: RunningServer;
  readonly names = new HandleNames();
  private readonly peers: ScriptedPeer[] = [];
  private readonly admins: AdminPeer[] = [];
  private adminPeer: AdminPeer | undefined;

  constructor(kind: ServerKind, server: RunningServer) {
    this.kind = kind;
    this.server = server;
  }

  get port(): number {
    return this.server.port;
  }

  /** The expectation for the server under test, where the two deliberately differ. */
  per<T>(expectations: Record<ServerKind, T>): T {
    return expectations[this.kind];
  }

  async peer(name: string): Promise<ScriptedPeer> {
    const p = await ScriptedPeer.connect(this.port, name);
    this.peers.push(p);
    return p;
  }

  /**
   * A worker connection registered for `functions` (CAN_DO each, in order). An ECHO barrier
   * makes sure the server has processed the registrations before other connections act.
   */
  async worker(name: string, ...functions: string[]): Promise<ScriptedPeer> {
    const w = await this.peer(name);
    for (const f of functions) w.send(PacketType.CAN_DO, [f]);
    await this.expectNothing(w, 'after CAN_DO');
    return w;
  }

  /**
   * A client's foreground job <H1> (function `f`, workload `x`) taken by a worker: the opening
   * of every scenario about a running job.
   */
  async runningJob(workerName = 'worker', unique = ''): Promise<{ client: ScriptedPeer; worker: ScriptedPeer }> {
    const client = await this.peer('client');
    this.send(client, PacketType.SUBMIT_JOB, ['f', unique, 'x']);
    await this.expect(client, 'JOB_CREATED <H1>');
    const worker = await this.worker(workerName, 'f');
    this.send(worker, PacketType.GRAB_JOB);
    await this.expect(worker, 'JOB_ASSIGN <H1>\0f\0x');
    return { client, worker };
  }

  /** Send with handle names (`<H1>`) translated back to the real handles. */
  send(peer: ScriptedPeer, type: number, fields: readonly Field[] = []): void {
    peer.send(
      type,
      fields.map((f) => (typeof f === 'string' ? f.replace(/<H\d+>/g, (n) => this.names.handleOf(n)) : f)),
    );
  }

  /** A received frame rendered as `NAME payload` (payload latin1, handles named). */
  render(frame: ReceivedFrame): string {
    if (frame.kind === 'text') return `TEXT ${this.names.normalize(frame.fields[0]!)}`;
    if (HANDLE_FIRST.has(frame.name) && frame.fields.length > 0) this.names.learn(frame.fields[0]!);
    const payload = this.names.normalize(frame.fields.join('\0'));
    return payload === '' ? frame.name : `${frame.name} ${payload}`;
  }

  /**
   * Read the next frame of `peer` and assert it renders exactly as `expected`, e.g.
   * `JOB_CREATED <H1>` or `WORK_FAIL <H1>\0`. Returns the frame.
   */
  async expect(peer: ScriptedPeer, expected: string, timeoutMs?: number): Promise<ReceivedFrame> {
    const frame = await peer.next(timeoutMs);
    const got = this.render(frame);
    assert.equal(got, expected, `${this.kind}: ${peer.name} received ${describeFrame(frame)}; history: ${peer.history()}`);
    return frame;
  }

  /** Assert that nothing more arrives for `peer` before an ECHO barrier (no sleeping). */
  async expectNothing(peer: ScriptedPeer, why = ''): Promise<void> {
    const extra = await peer.drainUntilEcho();
    assert.deepEqual(extra.map((f) => this.render(f)), [], `${this.kind}: ${peer.name} got unexpected frames ${why}`);
  }

  /** Send one admin line on a shared admin connection; returns the exact reply, handles named. */
  async admin(line: string, reply: 'line' | 'listing'): Promise<string> {
    this.adminPeer ??= await this.newAdmin();
    return this.names.normalize(await this.adminPeer.command(line, reply));
  }

  async newAdmin(): Promise<AdminPeer> {
    const a = await AdminPeer.connect(this.port);
    this.admins.push(a);
    return a;
  }

  /** A listing reduced to the lines starting with one of `prefixes` (plus `.`), sorted. */
  async listing(line: string, prefixes?: readonly string[]): Promise<string> {
    let text = await this.admin(line, 'listing');
    if (line.trim().toLowerCase() === 'workers') text = normalizeWorkersListing(text);
    if (prefixes !== undefined) {
      text = text
        .split('\n')
        .filter((l) => l === '.' || l === '' || prefixes.some((p) => l.startsWith(p)))
        .join('\n');
    }
    return sortListing(text);
  }

  /**
   * Poll admin `line` until `done` holds for its listing: for what a server handles on its own
   * time, such as a closed connection (gearmand: on its processing thread, after the I/O thread
   * saw the close). Fails after `timeoutMs` with `what` and the last listing.
   */
  async untilListing(line: string, done: (listing: string) => boolean, what: string, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const listing = await this.admin(line, 'listing');
      if (done(listing)) return listing;
      if (Date.now() > deadline) throw new Error(`${this.kind}: ${what} not seen within ${timeoutMs} ms; ${line.trim()} shows ${JSON.stringify(listing)}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.peers.map((p) => p.close()), ...this.admins.map((a) => a.close())]);
  }
}

export interface ScenarioOptions {
  /** Extra server flags (same meaning on both servers unless given per server). */
  args?: string[] | ServerArgs;
  /** Per-test timeout; scenarios are short, keep it bounded. */
  timeoutMs?: number;
}

type Scenario = (t: ScenarioContext) => Promise<void>;

/** Declare scenarios inside `suite` so each runs on every server, each on a fresh server. */
export function differential(title: string, define: (scenario: (name: string, run: Scenario, options?: ScenarioOptions) => void) => void): void {
  for (const { kind, skip } of serverKinds()) {
    describe(`${title} [${kind}]`, { skip }, () => {
      define((name, run, options = {}) => {
        test(name, { timeout: options.timeoutMs ?? 30_000 }, async () => {
          const args = Array.isArray(options.args) ? options.args : (options.args?.[kind] ?? []);
          const server = await startServer(kind, { args });
          const ctx = new ScenarioContext(kind, server);
          try {
            await run(ctx);
          } finally {
            await ctx.close();
            await server.stop();
          }
        });
      });
    });
  }
}

export { PacketType as T };
