import { Priority } from '../../engine/types.js';
import type { RequestHead } from './wire/request-head.js';

/** What the X-Gearman-* request headers ask for (gearman-spec 3.2 step 6). */
export interface GearmanRequestHeaders {
  /** Default `-`: identical workloads coalesce, as gearmand (spec 3.3). */
  unique: string;
  background: boolean;
  priority: Priority;
  /** X-Gearman-Timeout in ms; undefined = the configured default. */
  timeoutMs: number | undefined;
  /** Accept: text/event-stream: progress is streamed as server-sent events. */
  eventStream: boolean;
  /** Content-Length, or -1 when absent (from the head parser). */
  contentLength: number;
  /** A chunked body (from the head parser). */
  chunked: boolean;
  /** Set when a header value is invalid: the name of the header. */
  invalid: string | undefined;
  /** First Authorization and Origin values, for the guard (tokens, CORS). */
  authorization: string | undefined;
  origin: string | undefined;
}

/**
 * Read the X-Gearman-* headers, Accept, Authorization and Origin in one pass over the head's
 * fields (the framing headers the head parser has read already). Names are compared by
 * length first so most headers cost one integer comparison. Values come from the head parser
 * without surrounding blanks. Unlike gearmand, values are matched case-insensitively,
 * `normal` is a priority, and a value gearmand would silently ignore is refused with 400
 * INVALID_HEADER.
 */
export function readGearmanHeaders(head: Pick<RequestHead, 'rawHeaders' | 'contentLength' | 'chunked'>): GearmanRequestHeaders {
  const raw = head.rawHeaders;
  const h: GearmanRequestHeaders = {
    unique: '-',
    background: false,
    priority: Priority.NORMAL,
    timeoutMs: undefined,
    eventStream: false,
    contentLength: head.contentLength,
    chunked: head.chunked,
    invalid: undefined,
    authorization: undefined,
    origin: undefined,
  };
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    switch (name.length) {
      case 6: {
        const lower = name.toLowerCase();
        if (lower === 'accept') {
          if (raw[i + 1]!.includes('text/event-stream')) h.eventStream = true;
        } else if (lower === 'origin' && h.origin === undefined) {
          h.origin = raw[i + 1];
        }
        break;
      }
      case 13:
        if (h.authorization === undefined && name.toLowerCase() === 'authorization') h.authorization = raw[i + 1];
        break;
      case 16: {
        if (name.toLowerCase() !== 'x-gearman-unique') break;
        // gearmand: an empty value keeps the default `-`.
        const value = raw[i + 1]!;
        if (value !== '') h.unique = value;
        break;
      }
      case 17: {
        if (name.toLowerCase() === 'x-gearman-timeout') {
          const value = raw[i + 1]!;
          const ms = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
          if (Number.isNaN(ms)) h.invalid = name;
          else h.timeoutMs = ms;
        }
        break;
      }
      case 18: {
        if (name.toLowerCase() !== 'x-gearman-priority') break;
        const value = raw[i + 1]!.toLowerCase();
        if (value === 'high') h.priority = Priority.HIGH;
        else if (value === 'low') h.priority = Priority.LOW;
        else if (value === 'normal') h.priority = Priority.NORMAL;
        else h.invalid = name;
        break;
      }
      case 20: {
        if (name.toLowerCase() !== 'x-gearman-background') break;
        const value = raw[i + 1]!.toLowerCase();
        if (value === 'true') h.background = true;
        else if (value === 'false') h.background = false;
        else h.invalid = name;
        break;
      }
    }
  }
  return h;
}

/** Whether the request carries a body (one a refusal leaves unread, so the connection must close). */
export function hasBody(h: GearmanRequestHeaders): boolean {
  return h.contentLength > 0 || h.chunked;
}
