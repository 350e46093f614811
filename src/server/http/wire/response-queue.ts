/**
 * The responses a connection owes, in request order (pipelining). Only the first one writes
 * to the socket; the bytes of the others wait here, counted, until their turn.
 */
import type { HttpResponse } from './response.js';

interface HeldOutput {
  readonly parts: (string | Buffer)[];
  bytes: number;
}

export class ResponseQueue {
  private readonly owed: HttpResponse[] = [];
  private readonly heldOutput = new Map<HttpResponse, HeldOutput>();

  get length(): number {
    return this.owed.length;
  }

  get first(): HttpResponse | undefined {
    return this.owed[0];
  }

  get last(): HttpResponse | undefined {
    return this.owed[this.owed.length - 1];
  }

  push(res: HttpResponse): void {
    this.owed.push(res);
  }

  /** Keep bytes of a response that is not first in line. */
  hold(res: HttpResponse, data: string | Buffer): void {
    const held = this.heldOutput.get(res);
    if (held === undefined) this.heldOutput.set(res, { parts: [data], bytes: data.length });
    else {
      held.parts.push(data);
      held.bytes += data.length;
    }
  }

  heldBytes(res: HttpResponse): number {
    return this.heldOutput.get(res)?.bytes ?? 0;
  }

  /** Retire the first response; the bytes the new first one held meanwhile, to be written now. */
  retireFirst(): (string | Buffer)[] | undefined {
    this.owed.shift();
    const next = this.owed[0];
    if (next === undefined) return undefined;
    const held = this.heldOutput.get(next);
    this.heldOutput.delete(next);
    return held?.parts;
  }

  /** Take `res` out of line for good (its close callback runs). */
  remove(res: HttpResponse): void {
    const at = this.owed.indexOf(res);
    if (at !== -1) this.owed.splice(at, 1);
    this.heldOutput.delete(res);
    res.drop();
  }

  /** Drop every response after `res` (the connection ends with it). */
  dropAfter(res: HttpResponse): void {
    const at = this.owed.indexOf(res);
    if (at === -1) return;
    for (const later of this.owed.splice(at + 1)) {
      this.heldOutput.delete(later);
      later.drop();
    }
  }

  /** The connection is gone or closing: every response still owed hears it once. */
  closeAll(): void {
    for (const res of this.owed.splice(0)) res.closed();
    this.heldOutput.clear();
  }
}
