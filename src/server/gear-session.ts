import type { Socket } from 'node:net';
import { runAdminCommand, type AdminContext } from '../engine/admin.js';
import type { Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import type { EngineError, JobView, PeerListener } from '../engine/types.js';
import { FrameDecoder, type Frame } from '../protocol/decoder.js';
import { encodePacket, type Field } from '../protocol/encoder.js';
import { PacketBuilder } from '../protocol/packet-builder.js';
import { ProtocolError } from '../protocol/errors.js';
import { PacketType as T } from '../protocol/packets.js';
import { dispatchPacket } from './gear-dispatch.js';
import { openOutput, type SocketOutput } from './socket-output.js';
import { peerAddress } from './peer-address.js';
import { scheduleFlush } from './output-batch.js';
import { OPEN_RIGHTS, type PeerRights } from '../security/cert-rights.js';
import { deniedByRights } from '../security/gear-rights.js';

export interface SessionLimits {
  readonly maxPacketSize: number;
  readonly maxAdminLineLength: number;
  readonly outputHighWaterMark: number;
  readonly maxOutputBuffer: number;
  readonly silentConnectionTimeoutMs: number;
}

export interface SessionContext {
  readonly engine: Engine;
  readonly limits: SessionLimits;
  /** Every connection starts with the `exceptions` option (gearmand --exceptions). */
  readonly exceptionsByDefault: boolean;
  readonly admin: Omit<AdminContext, 'mayChangeState'>;
  readonly log: (level: 'debug' | 'info' | 'warn', message: string, detail?: Record<string, unknown>) => void;
}

/**
 * Replies held back to keep order behind background jobs' JOB_CREATED, which wait on the
 * durable store: a direct reply (`packet`), or the JOB_CREATED of consecutive jobs (`ids`)
 * of one store batch, sent once `store` has settled (ERROR each if the write failed). One
 * entry per batch, not an object per job: pipelined submits hold thousands.
 */
interface HeldReplies {
  readonly packet: Buffer | undefined;
  readonly store: StoreOutcome | undefined;
  readonly ids: number[];
}

const NO_IDS: number[] = [];

/** One store batch as a run of replies waiting on it sees it: one reaction per run, not per job. */
interface StoreOutcome {
  readonly durable: Promise<void>;
  stored: boolean;
  /** The ERROR packet every job of a failed batch is answered with. */
  error: Buffer | undefined;
}

/**
 * One connection on the Gearman port: bytes to frames, frames to engine calls, engine
 * events to packets. Output is batched per tick and bounded; input pauses while the peer
 * is not reading what it asked for.
 */
export class GearSession implements PeerListener {
  readonly socket: Socket;
  readonly peer: Peer;
  readonly ctx: SessionContext;
  /** OPTION_REQ exceptions: WORK_EXCEPTION is forwarded instead of turned into WORK_FAIL. */
  exceptions: boolean;
  readonly trusted: boolean;
  /** What this connection may do; from its client certificate when TLS verifies clients. */
  readonly rights: PeerRights;
  private readonly decoder: FrameDecoder;
  /** Packets waiting for this turn's write. */
  private readonly out = new PacketBuilder();
  private flushScheduled = false;
  private readonly held: HeldReplies[] = [];
  /** The function this connection last submitted to (BinaryFrame.keyOr reuses the string). */
  lastFunctionName = '';
  /** `<prefix>:`, the bytes every job handle starts with (sendHandlePacket). */
  private readonly handleHead: Buffer;
  private pausedForOutput = false;
  /** Whether the peer has sent a byte yet (a silent connection counts as stalled). */
  private heardFrom = false;
  /** Armed while the peer is silent, a packet is half received or output waits on it (watchStall). */
  private stallTimer: NodeJS.Timeout | undefined;
  private closing = false;
  /** Plain TCP: writes go to the handle directly; TLS through the stream. */
  private readonly output: SocketOutput;
  private readonly onFrameBound = (frame: Frame) => this.onFrame(frame);

  constructor(socket: Socket, ctx: SessionContext, trusted: boolean, rights: PeerRights = OPEN_RIGHTS, writeToHandle = false) {
    this.socket = socket;
    this.output = openOutput(socket, writeToHandle, () => this.onDrain());
    this.ctx = ctx;
    this.trusted = trusted;
    this.rights = rights;
    this.exceptions = ctx.exceptionsByDefault;
    this.handleHead = Buffer.from(ctx.engine.jobs.head, 'latin1');
    this.decoder = new FrameDecoder({
      maxPacketSize: ctx.limits.maxPacketSize,
      maxLineLength: ctx.limits.maxAdminLineLength,
    }, { reuseFrame: true }); // dispatch never keeps a frame past its call
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    this.peer = ctx.engine.connect(this, peerAddress(socket.remoteAddress), typeof fd === 'number' && fd >= 0 ? fd : undefined);
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    this.watchStall();
    socket.on('error', () => {}); // 'close' follows; resets from peers are routine
    socket.on('close', () => this.onClose());
  }

  // ---- input ------------------------------------------------------------------------

  /** Bytes from the peer: the first `length` of `chunk`, a reused buffer valid only during the call. */
  receive(chunk: Buffer, length = chunk.length): void {
    this.heardFrom = true;
    if (this.closing) return;
    try {
      this.decoder.push(chunk, this.onFrameBound, length);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.ctx.log('info', 'protocol error; closing connection', { code: err.code, reason: err.message, address: this.socket.remoteAddress });
      this.fatal(err.code, err.message);
      return;
    }
    if (this.stallTimer !== undefined || this.decoder.bufferedBytes > 0) this.watchStall();
  }

  /**
   * Cut a peer that stalls for the silent timeout: one that never sends a byte, stops halfway
   * through a packet (slowloris), or does not read what it asked for while its input is
   * paused. Idle connections with nothing half-done (sleeping workers) are never cut.
   */
  private watchStall(): void {
    const stalled = !this.closing && (!this.heardFrom || this.pausedForOutput || this.decoder.bufferedBytes > 0);
    if (!stalled) {
      if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
    } else if (this.stallTimer !== undefined) {
      this.stallTimer.refresh();
    } else {
      this.stallTimer = setTimeout(() => {
        const reason = !this.heardFrom ? 'sent nothing' : this.pausedForOutput ? 'does not read its replies' : 'stopped mid-packet';
        this.ctx.log('info', `closing a stalled connection: it ${reason}`, { address: this.socket.remoteAddress });
        this.socket.destroy();
      }, this.ctx.limits.silentConnectionTimeoutMs);
      this.stallTimer.unref();
    }
  }

  private onFrame(frame: Frame): void {
    if (this.closing) return;
    if (frame.kind === 'text') {
      const ctx: AdminContext = { ...this.ctx.admin, mayChangeState: this.trusted || this.rights.admin };
      this.reply(Buffer.from(runAdminCommand(this.ctx.engine, frame.line.toString('latin1'), ctx), 'latin1'));
      return;
    }
    const denied = deniedByRights(frame.type, this.rights);
    if (denied !== undefined) return this.replyError(denied);
    dispatchPacket(this, frame);
  }

  // ---- output -----------------------------------------------------------------------

  /** Queue bytes for this connection; written once per read or turn with the others. */
  send(packet: Buffer): void {
    if (this.closing) return;
    this.out.bytes(packet);
    this.willFlush();
  }

  /** Queue a packet of up to four fields, encoded straight into the output (no Buffer of its own). */
  sendPacket(type: number, a?: Field, b?: Field, c?: Field, d?: Field): void {
    if (this.closing) return;
    this.out.packet(type, a, b, c, d);
    this.willFlush();
  }

  /** sendPacket() of a packet whose first field is `job`'s handle, written from its number. */
  private sendHandlePacket(type: number, job: { readonly id: number }, b?: Field, c?: Field, d?: Field): void {
    if (this.closing) return;
    this.out.handlePacket(type, this.handleHead, job.id, b, c, d);
    this.willFlush();
  }

  private willFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      scheduleFlush(this);
    }
  }

  /** A direct reply: keeps its place behind replies still waiting on the store. */
  reply(packet: Buffer): void {
    if (this.held.length === 0) this.send(packet);
    else this.held.push({ packet, store: undefined, ids: NO_IDS });
  }

  /** reply() of a packet of up to four fields. */
  replyPacket(type: number, a?: Field, b?: Field, c?: Field, d?: Field): void {
    if (this.held.length === 0) this.sendPacket(type, a, b, c, d);
    else this.reply(encodePacket(type, [a, b, c, d].filter((f) => f !== undefined)));
  }

  /** replyPacket() of a packet whose first field is `job`'s handle (sendHandlePacket). */
  replyHandlePacket(type: number, job: { readonly id: number; readonly handle: string }, b?: Field, c?: Field, d?: Field): void {
    if (this.held.length === 0) this.sendHandlePacket(type, job, b, c, d);
    else this.replyPacket(type, job.handle, b, c, d);
  }

  /** Reserve the reply slot for `job`'s JOB_CREATED, sent once `durable` resolves; ERROR if it rejects. */
  replyCreatedWhenStored(durable: Promise<void>, job: { readonly id: number }): void {
    const held = this.held;
    const last = held[held.length - 1];
    // The jobs a read submits mostly share one store batch: they join the last run.
    if (last?.store?.durable === durable) {
      last.ids.push(job.id);
      return;
    }
    const store: StoreOutcome = { durable, stored: false, error: undefined };
    durable.then(
      () => {
        store.stored = true;
        this.releaseReplies();
      },
      (err: EngineError) => {
        store.error = this.errorPacket(err);
        this.releaseReplies();
      },
    );
    held.push({ packet: undefined, store, ids: [job.id] });
  }

  private releaseReplies(): void {
    const held = this.held;
    let sent = 0;
    for (; sent < held.length; sent++) {
      const { packet, store, ids } = held[sent]!;
      if (store === undefined) this.send(packet!);
      else if (store.stored) this.sendCreated(ids);
      else if (store.error !== undefined) for (let i = 0; i < ids.length; i++) this.send(store.error);
      else break; // its store write is still pending
    }
    held.splice(0, sent);
  }

  /** JOB_CREATED for each of `ids`, straight into the output. */
  private sendCreated(ids: readonly number[]): void {
    if (this.closing) return;
    for (let i = 0; i < ids.length; i++) this.out.handlePacket(T.JOB_CREATED, this.handleHead, ids[i]!);
    this.willFlush();
  }

  errorPacket(err: EngineError): Buffer {
    return encodePacket(T.ERROR, [err.code, err.text]);
  }

  replyError(err: EngineError): void {
    this.reply(this.errorPacket(err));
  }

  /** A worker's output is flushed before clients' (output-batch.ts). */
  get urgent(): boolean {
    return this.peer.registrations.length > 0;
  }

  flush(): void {
    this.flushScheduled = false;
    const out = this.out;
    if (out.length === 0) return;
    if (this.socket.destroyed) return out.reset(true);
    out.reset(this.output.write(out.view()));
    const unsent = this.output.pendingBytes;
    if (unsent > this.ctx.limits.maxOutputBuffer) {
      this.ctx.log('warn', 'slow consumer: output buffer limit reached; closing connection', {
        address: this.socket.remoteAddress,
        unsent,
      });
      this.socket.destroy();
    } else if (unsent > this.ctx.limits.outputHighWaterMark && !this.pausedForOutput) {
      this.pausedForOutput = true;
      this.socket.pause();
      this.watchStall();
    }
  }

  private onDrain(): void {
    if (this.pausedForOutput) {
      this.pausedForOutput = false;
      this.socket.resume();
      this.watchStall();
    }
  }

  /** Answer malformed input with an ERROR packet, then close (nothing more is read). */
  private fatal(code: string, text: string): void {
    // An overlong admin line is answered in the admin protocol's own words.
    this.send(code === 'LINE_TOO_LONG' ? Buffer.from(`ERR ${code} ${text.replace(/ /g, '+')}\r\n`) : encodePacket(T.ERROR, [code, text]));
    this.flush();
    this.closing = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private onClose(): void {
    this.closing = true;
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    this.ctx.engine.disconnect(this.peer);
  }

  close(): void {
    this.closing = true;
    this.socket.destroy();
  }

  // ---- PeerListener: what the engine tells this connection --------------------------

  wake(): void {
    this.sendPacket(T.NOOP);
  }

  // A job's WORK_* keep their place behind replies still waiting on the store: a client never
  // hears a job's result before that job's JOB_CREATED (spec 1.5 step 11).

  workData(job: JobView, data: Buffer): void {
    this.replyHandlePacket(T.WORK_DATA, job, data);
  }

  workWarning(job: JobView, data: Buffer): void {
    this.replyHandlePacket(T.WORK_WARNING, job, data);
  }

  workStatus(job: JobView, numerator: Buffer, denominator: Buffer): void {
    this.replyHandlePacket(T.WORK_STATUS, job, numerator, denominator);
  }

  workComplete(job: JobView, data: Buffer): void {
    this.replyHandlePacket(T.WORK_COMPLETE, job, data);
  }

  workFail(job: JobView): void {
    this.replyHandlePacket(T.WORK_FAIL, job);
  }

  workException(job: JobView, data: Buffer): void {
    // Clients without the `exceptions` option hear WORK_FAIL (spec 1.6). gearmand appends a
    // NUL to that handle; we send the handle alone, as in every other WORK_FAIL.
    if (this.exceptions) this.replyHandlePacket(T.WORK_EXCEPTION, job, data);
    else this.replyHandlePacket(T.WORK_FAIL, job);
  }
}
