/**
 * The connection driver: bytes in, replies out, no sockets. One per client connection.
 *
 * Pipelining: requests are dispatched as they decode, handlers may complete in any order (async),
 * and replies leave strictly in request order: each request gets a slot in a FIFO, and the head
 * slots that are done are encoded and handed out together (one write per flush). At most
 * `inflightRequestsMax` slots exist; at the bound the driver stops pulling requests from the
 * decoder and asks the socket owner to pause reads, so a fast pipeliner cannot queue without bound.
 * `setOutputBlocked` (socket write()===false until 'drain') stops dispatch the same way.
 *
 * Each reply is encoded with the protocol version the connection had right after its command's
 * synchronous part ran (HELLO 3's own reply is RESP3; a reply owed before it stays RESP2).
 */
import { type CommandEntry, type CommandTable, CommandFlag } from './command-table.js';
import { type ConnectionState, type ConnectionServices, newConnectionState } from './connection-state.js';
import { ConnectionErrorText } from './connection-commands.js';
import { type RespLimits, defaultRespLimits } from './limits.js';
import { type Reply, reply } from './reply.js';
import { type ProtocolVersion, ReplyWriter } from './reply-writer.js';
import { DecodeVerdict, RequestDecoder } from './request-decoder.js';

export const CloseReason = {
  /** QUIT, after its +OK. */
  quit: 'quit',
  /** A protocol error, after its -ERR Protocol error reply. */
  protocolError: 'protocolError',
  /** The query buffer bound was passed: closed at once, no reply. */
  queryBufferExceeded: 'queryBufferExceeded',
  /** `POST` or `Host:` as a command: an HTTP request aimed at this port; closed at once, no reply. */
  crossProtocol: 'crossProtocol',
} as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

export interface ConnectionOutput {
  /** Reply bytes, in request order. */
  write(bytes: Buffer): void;
  /** Close after the bytes written so far (the driver writes nothing after this). */
  close(reason: CloseReason): void;
  /** The driver wants reads paused (true) or resumed (false). Called on changes only. */
  setReadsPaused?(paused: boolean): void;
}

export interface RespConnectionOptions {
  readonly id: number;
  readonly table: CommandTable;
  readonly services: ConnectionServices;
  readonly output: ConnectionOutput;
  readonly limits?: RespLimits;
  /** A handler threw or rejected (a bug or an unexpected failure): for the log. */
  readonly onHandlerError?: (error: unknown, command: string) => void;
}

interface Slot {
  done: boolean;
  reply: Reply | null;
  version: ProtocolVersion;
}

/** Encoded replies past this size are written without waiting for the rest of the chunk. */
const earlyWriteBytesMin = 64 * 1024;

/** Redis registers these as commands that log a security warning and drop the client. */
function isCrossProtocol(name: Buffer): boolean {
  if (name.length !== 4 && name.length !== 5) return false;
  const lower = name.toString('latin1').toLowerCase();
  return lower === 'post' || lower === 'host:';
}

export class RespConnection {
  readonly state: ConnectionState;
  private readonly decoder: RequestDecoder;
  private readonly writer = new ReplyWriter();
  private readonly limits: RespLimits;
  private readonly slots: Slot[] = [];
  private slotsHead = 0;
  /** A barrier command decoded while others were in flight: dispatched once they are done. */
  private held: { args: Buffer[]; entry: CommandEntry } | null = null;
  /** A barrier command is running: nothing else is dispatched until it completes. */
  private barrierRunning = false;
  /** Handlers dispatched and not yet complete (async). */
  private running = 0;
  private outputBlocked = false;
  private readsPaused = false;
  private closing: CloseReason | null = null;
  private closed = false;
  private pumping = false;
  /** A pump is scheduled for the completions of this turn (one write for all the replies they finish). */
  private completionPumpQueued = false;

  constructor(private readonly options: RespConnectionOptions) {
    this.limits = options.limits ?? defaultRespLimits;
    this.decoder = new RequestDecoder(this.limits);
    this.state = newConnectionState(options.id, options.services.authRequired);
  }

  /** Requests dispatched (or decoded and held) whose replies are not yet written. */
  get inflightRequests(): number {
    return this.slots.length - this.slotsHead + (this.held ? 1 : 0);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get wantsReadsPaused(): boolean {
    return this.readsPaused;
  }

  /** Bytes from the peer. */
  receive(chunk: Uint8Array): void {
    if (this.closed || this.closing !== null) return;
    this.decoder.push(chunk);
    this.pump();
  }

  /** The socket's write buffer is full (true) or drained (false). */
  setOutputBlocked(blocked: boolean): void {
    this.outputBlocked = blocked;
    if (!blocked) this.pump();
  }

  /** The peer went away: nothing more is written; late handler results are dropped. */
  end(): void {
    this.closed = true;
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && this.closing === null && !this.outputBlocked && !this.barrierRunning) {
        if (this.held !== null) {
          if (this.running > 0) break;
          const { args, entry } = this.held;
          this.held = null;
          this.dispatch(args, entry);
          continue;
        }
        if (this.slots.length - this.slotsHead >= this.limits.inflightRequestsMax) {
          // Replies done at the head no longer count: encode them (sent by the flush below).
          if (!this.retireDone()) break;
          continue;
        }
        this.decoder.unauthenticated = this.options.services.authRequired && !this.state.authenticated;
        const result = this.decoder.next();
        if (result.kind === DecodeVerdict.incomplete) break;
        if (result.kind === DecodeVerdict.queryBufferExceeded) {
          this.closeNow(CloseReason.queryBufferExceeded);
          return;
        }
        if (result.kind === DecodeVerdict.protocolError) {
          this.pushDone(reply.error(result.message));
          this.closing = CloseReason.protocolError;
          break;
        }
        if (isCrossProtocol(result.args[0]!)) {
          this.closeNow(CloseReason.crossProtocol);
          return;
        }
        this.route(result.args);
        // Big replies leave before the chunk is done, so a full socket (write() === false)
        // stops dispatch mid-chunk instead of after the whole pipeline is encoded.
        if (this.retireDone() && this.writer.writtenBytes >= earlyWriteBytesMin) this.options.output.write(this.writer.take());
      }
    } finally {
      this.pumping = false;
    }
    this.flush();
  }

  private pushDone(r: Reply): void {
    this.slots.push({ done: true, reply: r, version: this.state.protocol });
  }

  private route(args: Buffer[]): void {
    const found = this.options.table.lookup(args, this.state);
    if (found.kind === 'rejected') {
      this.pushDone(found.reply);
      return;
    }
    const { flags } = found.entry.spec;
    if (!this.state.authenticated && this.options.services.authRequired && !flags.has(CommandFlag.noAuth)) {
      this.pushDone(reply.error(ConnectionErrorText.noAuth));
      return;
    }
    if (flags.has(CommandFlag.barrier) && this.running > 0) {
      this.held = { args, entry: found.entry };
      return;
    }
    this.dispatch(args, found.entry);
  }

  private dispatch(args: Buffer[], entry: CommandEntry): void {
    const slot: Slot = { done: false, reply: null, version: this.state.protocol };
    this.slots.push(slot);
    let result: Reply | Promise<Reply>;
    try {
      result = entry.handler({ args, spec: entry.spec, connection: this.state, services: this.options.services });
    } catch (error) {
      result = this.handlerFailed(error, entry.spec.fullName);
    }
    if (this.state.closeAfterReply) this.closing = CloseReason.quit;
    if (!(result instanceof Promise)) {
      slot.version = this.state.protocol;
      slot.reply = result;
      slot.done = true;
      return;
    }
    const barrier = entry.spec.flags.has(CommandFlag.barrier);
    if (barrier) this.barrierRunning = true;
    this.running++;
    result.then(
      (r) => this.complete(slot, r, barrier),
      (error) => this.complete(slot, this.handlerFailed(error, entry.spec.fullName), barrier),
    );
  }

  private handlerFailed(error: unknown, command: string): Reply {
    this.options.onHandlerError?.(error, command);
    const message = error instanceof Error ? error.message : String(error);
    return reply.error(`ERR ${message}`);
  }

  private complete(slot: Slot, r: Reply, barrier: boolean): void {
    this.running--;
    slot.reply = r;
    slot.done = true;
    // An async barrier (HELLO with AUTH) may change the version its own reply is encoded in.
    if (barrier) {
      slot.version = this.state.protocol;
      this.barrierRunning = false;
    }
    if (this.state.closeAfterReply && this.closing === null) this.closing = CloseReason.quit;
    if (this.closed || this.completionPumpQueued) return;
    // Handlers finished by one event (a batch applied, a read index confirmed) complete in one
    // microtask run: pumping once after it writes all their replies in one socket write, not one each.
    this.completionPumpQueued = true;
    process.nextTick(this.pumpCompletions);
  }

  private readonly pumpCompletions = (): void => {
    this.completionPumpQueued = false;
    if (!this.closed) this.pump();
  };

  /** Encodes the done slots at the head into the writer; true if there were any. */
  private retireDone(): boolean {
    let retired = false;
    while (this.slotsHead < this.slots.length && this.slots[this.slotsHead]!.done) {
      const slot = this.slots[this.slotsHead++]!;
      this.writer.write(slot.reply!, slot.version);
      retired = true;
    }
    return retired;
  }

  private flush(): void {
    if (this.closed) return;
    this.retireDone();
    if (this.slotsHead === this.slots.length) {
      this.slots.length = 0;
      this.slotsHead = 0;
    } else if (this.slotsHead > 64 && this.slotsHead * 2 > this.slots.length) {
      this.slots.splice(0, this.slotsHead);
      this.slotsHead = 0;
    }
    if (this.writer.writtenBytes > 0) this.options.output.write(this.writer.take());
    if (this.closing !== null && this.slots.length === 0) {
      this.closed = true;
      this.options.output.close(this.closing);
      return;
    }
    const paused = this.slots.length - this.slotsHead >= this.limits.inflightRequestsMax || this.held !== null || this.barrierRunning;
    if (paused !== this.readsPaused) {
      this.readsPaused = paused;
      this.options.output.setReadsPaused?.(paused);
    }
  }

  private closeNow(reason: CloseReason): void {
    this.closed = true;
    this.options.output.close(reason);
  }
}
