import { ADMIN_OK, LISTING_END, MAX_ADMIN_TOKENS, adminError, asciiLower, tokenizeAdminLine } from '../protocol/admin.js';
import { cString } from '../protocol/c-strings.js';
import type { Engine } from './engine.js';

/** What admin commands need from the server around the engine. */
export interface AdminContext {
  readonly pid: number;
  readonly version: string;
  /** The --verbose level name (FATAL ... DEBUG). */
  readonly verbose: string;
  /**
   * Whether this connection may run commands that change state (maxqueue, cancel job,
   * drop function, create function, shutdown): loopback or an admin identity.
   */
  readonly mayChangeState: boolean;
  /** Begin shutdown; the reply is sent first. */
  shutdown(graceful: boolean): void;
}

/** The command word is echoed as sent, in its case (gearmand prints the token). */
const incomplete = (command: string) =>
  adminError('INVALID_ARGUMENTS', `An incomplete set of arguments was sent to this command ${command}`);
const notPermitted = adminError('PERMISSION_DENIED', 'Only loopback or admin connections may change state');

/**
 * Run one admin text line (gearman-spec 2.2) and return the exact reply bytes (latin1).
 * Outputs match gearmand's, mixed line endings included, so gearadmin and monitoring parse them.
 */
export function runAdminCommand(engine: Engine, line: string, ctx: AdminContext): string {
  const tokens = tokenizeAdminLine(line);
  if (tokens.length > MAX_ADMIN_TOKENS) return adminError('TOO_MANY_ARGUMENTS', 'At most 5 tokens per command');
  // gearmand compares and prints the command word and keywords as C strings: `status\0x`
  // is `status`, `show jobs\0x` shows jobs (arguments keep their bytes, as before).
  tokens[0] = cString(tokens[0]!);
  const command = asciiLower(tokens[0]);
  switch (command) {
    case 'workers':
      return workersListing(engine);
    case 'status':
      return statusListing(engine);
    case 'prioritystatus':
      return priorityListing(engine);
    case 'show':
      return show(engine, tokens);
    case 'cancel':
      if (tokens.length < 3) break;
      if (tokens.length > 3 || word(tokens[1]!) !== 'job') return adminError('UNKNOWN_ERROR');
      if (!ctx.mayChangeState) return notPermitted;
      return engine.cancel(tokens[2]!) ? ADMIN_OK : adminError('UNKNOWN_JOB');
    case 'create':
      if (tokens.length !== 3 || word(tokens[1]!) !== 'function') return incomplete(tokens[0]!);
      if (!ctx.mayChangeState) return notPermitted;
      // gearmand drops the name's last character after a bare LF (spec 7 B7); we keep it.
      return engine.functionFor(tokens[2]!) ? ADMIN_OK : adminError('CREATE_FUNCTION', tokens[2]!);
    case 'drop':
      if (tokens.length !== 3 || word(tokens[1]!) !== 'function') return incomplete(tokens[0]!);
      if (!ctx.mayChangeState) return notPermitted;
      return dropFunction(engine, tokens[2]!);
    case 'maxqueue':
      if (tokens.length < 2) return incomplete(tokens[0]!);
      if (!ctx.mayChangeState) return notPermitted;
      engine.setMaxQueue(tokens[1]!, maxQueueLimits(tokens.slice(2)));
      return ADMIN_OK;
    case 'getpid':
      return `OK ${ctx.pid}\n`;
    case 'verbose':
      return `OK ${ctx.verbose}\n`;
    case 'version':
      return `OK ${ctx.version}\n`;
    case 'shutdown': {
      // Removed from gearmand in 1.1.15; kept here for loopback and admin identities only.
      const graceful = tokens.length > 1 && word(tokens[1]!) === 'graceful';
      if (tokens.length > 2 || (tokens.length === 2 && !graceful)) return adminError('UNKNOWN_ARGS');
      if (!ctx.mayChangeState) return notPermitted;
      ctx.shutdown(graceful);
      return ADMIN_OK;
    }
  }
  return `ERR UNKNOWN_COMMAND Unknown+server+command${tokens[0]}\r\n`;
}

/** A keyword as gearmand's strcasecmp compares it: up to its first NUL, ASCII case folded. */
function word(token: string): string {
  return asciiLower(cString(token));
}

function workersListing(engine: Engine): string {
  let out = '';
  for (const peer of engine.peers) {
    out += `${peer.label} ${peer.address} ${peer.clientId} :`;
    for (const name of peer.functionNames()) out += ` ${cString(name)}`;
    out += '\n';
  }
  return out + LISTING_END;
}

function statusListing(engine: Engine): string {
  let out = '';
  for (const fn of engine.functions.values()) {
    out += `${cString(fn.name)}\t${fn.total}\t${fn.running}\t${fn.workers.length}\n`;
  }
  return out + LISTING_END;
}

function priorityListing(engine: Engine): string {
  let out = '';
  for (const fn of engine.functions.values()) {
    const [high, normal, low] = fn.queues.map((q, p) => q.length + fn.scheduledCounts[p]!);
    out += `${cString(fn.name)}\t${high}\t${normal}\t${low}\t${fn.workers.length}\n`;
  }
  return out + LISTING_END;
}

function show(engine: Engine, tokens: string[]): string {
  const words = tokens.slice(1).map(word);
  if (tokens.length === 2 && words[0] === 'jobs') {
    let out = '';
    for (const job of engine.jobs.values()) {
      out += `${job.handle}\t${job.retries}\t${job.run?.ignored === true ? 1 : 0}\t${job.storeKey !== undefined ? 1 : 0}\n`;
    }
    return out + LISTING_END;
  }
  if (tokens.length === 3 && words[0] === 'unique' && words[1] === 'jobs') {
    let out = '';
    for (const job of engine.jobs.values()) out += `${job.unique}\n`;
    return out + LISTING_END;
  }
  if (tokens.length >= 2) return adminError('UNKNOWN_SHOW_ARGUMENTS');
  return `ERR UNKNOWN_COMMAND Unknown+server+command${tokens[0]}\r\n`;
}

function dropFunction(engine: Engine, name: string): string {
  switch (engine.dropFunction(name)) {
    case 'ok':
      return ADMIN_OK;
    case 'busy':
      return 'ERR there are still connected workers or executing clients\r\n';
    case 'queued':
      return 'ERR there are still queued jobs\r\n';
    case 'missing':
      return 'ERR function not found\r\n';
  }
}

/**
 * A maxqueue number as C's atoi reads it (spec 2.2): C blanks, a sign, digits; no digits is 0.
 * Not parseInt, which also skips a no-break space (0xA0) and other Unicode blanks. Numbers
 * outside an `int` are read whole, not wrapped (README compatibility row 20).
 */
function atoiLimit(text: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?[0-9]+)/.exec(text);
  return m === null ? 0 : Math.max(0, Number(m[1]));
}

/** maxqueue limits (spec 2.2): none = unlimited, one for all, two = HIGH and NORMAL, three each. */
export function maxQueueLimits(args: string[]): [number, number, number] {
  const n = args.map(atoiLimit);
  if (n.length === 0) return [0, 0, 0];
  if (n.length === 1) return [n[0]!, n[0]!, n[0]!];
  if (n.length === 2) return [n[0]!, n[1]!, 0];
  return [n[0]!, n[1]!, n[2]!];
}
