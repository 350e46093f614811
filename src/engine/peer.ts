import type { FunctionState } from './function-state.js';
import { JobSet } from './job-set.js';
import type { PeerListener } from './types.js';

/** One worker registration: a function with its CAN_DO_TIMEOUT (ms, 0 = none). */
export interface Registration {
  readonly fn: FunctionState;
  timeoutMs: number;
  /** Registration sequence: `workers` lists newest first whatever the grab rotation did. */
  readonly order: number;
}

/** Engine-side state of one connection (gearman-spec 1.3 "per-connection state"). */
export class Peer {
  readonly id: number;
  readonly listener: PeerListener;
  /** Shown by the admin `workers` listing. */
  readonly address: string;
  readonly label: number;
  /** SET_CLIENT_ID, '-' until set. */
  clientId = '-';
  sleeping = false;
  noopSent = false;
  /** Registrations; the one chosen by a grab moves to the end (round-robin, gearmand 2.0). */
  registrations: Registration[] = [];
  /** Jobs this connection waits on as a foreground client. */
  readonly attached = new JobSet();
  /** Jobs this connection runs as a worker. */
  readonly running = new JobSet();
  closed = false;

  constructor(id: number, listener: PeerListener, address: string, label: number) {
    this.id = id;
    this.listener = listener;
    this.address = address;
    this.label = label;
  }

  /** Function names, newest registration first (admin `workers`). */
  functionNames(): string[] {
    return [...this.registrations].sort((a, b) => b.order - a.order).map((r) => r.fn.name);
  }

  registrationFor(fn: FunctionState): Registration | undefined {
    for (const r of this.registrations) if (r.fn === fn) return r;
    return undefined;
  }
}
