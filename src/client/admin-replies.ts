/** Parsers for admin text replies (gearman-spec 2.2). Pure: lines in, typed values out. */
import { AdminError } from './errors.js';

export interface FunctionStatus {
  readonly name: string;
  /** Jobs queued plus running (gearmand's `job_total`, spec 1.12 item 1). */
  readonly total: number;
  readonly running: number;
  /** Registrations (CAN_DO) for the function. */
  readonly workers: number;
}

export interface FunctionPriorityStatus {
  readonly name: string;
  /** Jobs waiting per priority (future epoch jobs included). */
  readonly high: number;
  readonly normal: number;
  readonly low: number;
  readonly workers: number;
}

export interface WorkerInfo {
  /** The server's socket number for the connection. */
  readonly fd: number;
  readonly ip: string;
  /** SET_CLIENT_ID value, `-` if none. */
  readonly id: string;
  /** Registered functions, newest first (duplicates repeated). */
  readonly functions: string[];
}

export interface JobInfo {
  readonly handle: string;
  readonly retries: number;
  /** Abandoned: all its clients left, or it was cancelled. */
  readonly ignored: boolean;
  /** Stored in a persistent queue. */
  readonly persisted: boolean;
}

const num = (text: string | undefined) => Number(text ?? 'NaN');

export function parseStatus(lines: string[]): FunctionStatus[] {
  return lines.map((line) => {
    const [name = '', total, running, workers] = line.split('\t');
    return { name, total: num(total), running: num(running), workers: num(workers) };
  });
}

export function parsePriorityStatus(lines: string[]): FunctionPriorityStatus[] {
  return lines.map((line) => {
    const [name = '', high, normal, low, workers] = line.split('\t');
    return { name, high: num(high), normal: num(normal), low: num(low), workers: num(workers) };
  });
}

const workerLine = /^(\S+) (\S+) (.*?) :(.*)$/;

export function parseWorkers(lines: string[]): WorkerInfo[] {
  return lines.map((line) => {
    const match = workerLine.exec(line);
    if (match === null) return { fd: NaN, ip: '', id: line, functions: [] };
    const functions = match[4]!.split(' ').filter((name) => name.length > 0);
    return { fd: num(match[1]), ip: match[2]!, id: match[3]!, functions };
  });
}

export function parseJobs(lines: string[]): JobInfo[] {
  return lines.map((line) => {
    const [handle = '', retries, ignored, persisted] = line.split('\t');
    return { handle, retries: num(retries), ignored: ignored === '1', persisted: persisted === '1' };
  });
}

/** `ERR <code> <text+with+plus>` as an AdminError, or undefined for any other line. */
export function parseAdminError(line: string): AdminError | undefined {
  if (!line.startsWith('ERR')) return undefined;
  const rest = line.slice(4);
  const space = rest.indexOf(' ');
  const word = space === -1 ? rest : rest.slice(0, space);
  // Most replies carry a code (`ERR UNKNOWN_JOB`); a few are prose (`ERR function not found`).
  if (!/^[A-Z_]+$/.test(word)) return new AdminError('UNKNOWN', rest);
  const text = space === -1 ? '' : rest.slice(space + 1).replace(/\+/g, ' ');
  return new AdminError(word, text);
}

/** `OK` or `OK <value>`: the value; throws AdminError on `ERR ...`. */
export function parseOk(line: string): string {
  const error = parseAdminError(line);
  if (error !== undefined) throw error;
  if (line === 'OK') return '';
  if (line.startsWith('OK ')) return line.slice(3);
  throw new AdminError('UNEXPECTED_REPLY', line);
}
