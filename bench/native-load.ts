// Native Handle protocol (RFC 3652) load driver for the bench: closed-loop resolution requests over TCP (keep-alive, or a new connection per request as CNRI's client library does) or UDP, prebuilt before timing, figures like lib's load.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { decodeEnvelope, ENVELOPE_AT, ENVELOPE_SIZE, UDP_FRAGMENT_PAYLOAD } from '../handle/wire/envelope.js';
import { decodeMessage, encodeRequest, HEADER_AT, HEADER_SIZE, OC, OPFLAG } from '../handle/wire/message.js';
import { encodeResolutionRequest } from '../handle/wire/body.js';
import { childPids, cpuMicros, rssBytes, shuffle, type LoadResult } from './lib.js';

const HOST = '127.0.0.1';

// where the driver reads and patches whole messages (RFC 3652 §2.2.1 and §2.2.2, as the codec lays them out)
const REQUEST_ID_AT = ENVELOPE_AT.requestId;
const SEQUENCE_AT = ENVELOPE_AT.sequenceNumber;
const MESSAGE_LENGTH_AT = ENVELOPE_AT.messageLength;
const RESPONSE_CODE_AT = HEADER_AT.responseCode;
/** RC 1 (RFC 3652 §2.2.2.2) */
const RC_SUCCESS = 1;
/** a response claiming more than this is garbage: the connection is dropped */
const MAX_TCP_MESSAGE = 16 * 1024 * 1024;
const MAX_UDP_MESSAGE = 64 * UDP_FRAGMENT_PAYLOAD;
/** every this many responses one is decoded in full by the codec (the first always) */
const CHECK_EVERY = 4096;

export type NativeTransport = 'tcp' | 'tcp-new' | 'udp';

export interface NativeLoadOptions {
  /** the node's native port (TCP and UDP), on 127.0.0.1 */
  port: number;
  /** tcp: keep-alive connections; tcp-new: a new connection per request (no keep-alive flag, the client closes after
   *  the answer, as CNRI's client library resolves); udp: datagrams */
  transport: NativeTransport;
  /** handles to resolve; one request is prebuilt per handle and they are sent in a random order, cycling */
  handles: readonly string[];
  /** TCP: connections, one request outstanding on each (tcp-new: that many connections open at once); UDP: requests
   *  outstanding on the one socket */
  connections: number;
  /** seconds (bounded: no request is sent after it; the run ends when the last outstanding one is answered or times out) */
  duration?: number;
  /** or a fixed number of requests */
  amount?: number;
  /** the server's pid, for CPU and RSS (its cluster workers are included) */
  pid?: number;
  /** a request unanswered for this long counts as an error (UDP: the slot is freed; TCP: the connection is replaced);
   *  default 2000 ms for UDP, 10000 ms for TCP */
  timeoutMs?: number;
}

export interface NativeLoadResult extends LoadResult {
  /** the first thing that went wrong (a connection error, a timeout, a malformed response), to say why errors > 0 */
  firstError: string | null;
}

/** The node's whole answer (envelope and message) to one resolution of `handle` over TCP: what the native ceiling repeats. */
export function captureAnswer(port: number, handle: string, timeoutMs = 5000): Promise<Buffer> {
  const request = buildRequests([handle], 'tcp-new')[0]!;
  return new Promise((resolve, reject) => {
    const s = connect(port, HOST, () => s.write(request));
    let got = Buffer.alloc(0);
    const t = setTimeout(() => s.destroy(new Error(`no answer for ${handle} within ${timeoutMs} ms`)), timeoutMs);
    s.on('data', (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.length >= ENVELOPE_SIZE && got.length >= ENVELOPE_SIZE + got.readUInt32BE(MESSAGE_LENGTH_AT)) {
        clearTimeout(t);
        s.destroy();
        resolve(got.subarray(0, ENVELOPE_SIZE + got.readUInt32BE(MESSAGE_LENGTH_AT)));
      }
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** Prebuilt requests: envelope + message per handle (requestId 0, patched at send), in a random order. */
function buildRequests(handles: readonly string[], transport: NativeTransport): Buffer[] {
  if (handles.length === 0) throw new Error('nativeLoad: no handles');
  const expiration = Math.floor(Date.now() / 1000) + 600;
  const opFlags = transport === 'tcp' ? OPFLAG.KEEP_ALIVE : 0;
  const out: Buffer[] = [];
  for (const handle of shuffle(handles.slice())) {
    const body = encodeResolutionRequest({ handle, indexes: [], types: [] });
    const request = encodeRequest({ opCode: OC.RESOLUTION, opFlags, body, requestId: 0, expiration });
    if (transport === 'udp' && request.length - ENVELOPE_SIZE > UDP_FRAGMENT_PAYLOAD) {
      throw new Error(`nativeLoad: the request for ${handle} is ${request.length - ENVELOPE_SIZE} bytes, more than one UDP datagram carries (${UDP_FRAGMENT_PAYLOAD})`);
    }
    out.push(request);
  }
  return out;
}

/** Latencies in ms, growable. */
class Latencies {
  private a = new Float64Array(1 << 16);
  n = 0;
  add(ms: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = ms;
  }
  /** p50, p99, p99.9 (nearest rank), ms rounded to µs */
  quantiles(): [number, number, number] {
    const s = this.a.subarray(0, this.n).sort();
    const q = (p: number) => (s.length === 0 ? 0 : Math.round(s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]! * 1000) / 1000);
    return [q(0.5), q(0.99), q(0.999)];
  }
}

/** What both transports share: the send budget, counters, and the finish. */
class Run {
  readonly lat = new Latencies();
  readonly codes: Record<string, number> = {};
  requests = 0;
  errors = 0;
  notOk = 0;
  sent = 0;
  outstanding = 0;
  firstError: string | null = null;
  private cursor = 0;
  private nextId = 1;
  private readonly deadline: number;
  private readonly amount: number;
  private finished = false;
  readonly start = performance.now();
  end = 0;
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly reqs: Buffer[],
    o: NativeLoadOptions,
    private readonly onFinish: () => void,
  ) {
    this.deadline = o.amount !== undefined ? Infinity : this.start + (o.duration ?? 5) * 1000;
    this.amount = o.amount ?? Infinity;
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  canSend(): boolean {
    return !this.finished && this.sent < this.amount && performance.now() < this.deadline;
  }

  /** Copies the next prebuilt request into `scratch` with a fresh requestId; returns the bytes to send and the id. */
  next(slot: { scratch: Buffer; view: Buffer }): number {
    const req = this.reqs[this.cursor]!;
    this.cursor = this.cursor + 1 === this.reqs.length ? 0 : this.cursor + 1;
    const id = this.nextId;
    this.nextId = this.nextId === 0x7fffffff ? 1 : this.nextId + 1;
    req.copy(slot.scratch, 0);
    slot.scratch.writeUInt32BE(id, REQUEST_ID_AT);
    if (slot.view.length !== req.length) slot.view = slot.scratch.subarray(0, req.length);
    this.sent++;
    this.outstanding++;
    return id;
  }

  error(why: string): void {
    this.errors++;
    this.firstError ??= why;
  }

  /**
   * One whole response: its message is `buf[at, at + length)`; `envelope` is where its (first) envelope starts.
   * Returns false when it is malformed (counted as an error, not a request).
   */
  answered(t0: number, buf: Buffer, envelopeAt: number, at: number, length: number, id: number): boolean {
    if (length < HEADER_SIZE) {
      this.error(`response of ${length} message bytes (a header is ${HEADER_SIZE})`);
      return false;
    }
    const rc = buf.readUInt32BE(at + RESPONSE_CODE_AT);
    if (this.requests % CHECK_EVERY === 0) {
      // the fast path's reading of the bytes, checked against the codec now and then
      try {
        const env = decodeEnvelope(buf.subarray(envelopeAt, envelopeAt + ENVELOPE_SIZE));
        const msg = decodeMessage(buf.subarray(at, at + length));
        if (env.requestId !== id || env.messageLength !== length || msg.header.responseCode !== rc || msg.header.opCode !== OC.RESOLUTION) {
          throw new Error(`requestId ${env.requestId} (sent ${id}), messageLength ${env.messageLength} (read ${length}), opCode ${msg.header.opCode}, responseCode ${msg.header.responseCode} (read ${rc})`);
        }
      } catch (err) {
        this.error(`malformed response: ${(err as Error).message}`);
        return false;
      }
    }
    this.lat.add(performance.now() - t0);
    this.requests++;
    const k = String(rc);
    this.codes[k] = (this.codes[k] ?? 0) + 1;
    if (rc !== RC_SUCCESS) this.notOk++;
    return true;
  }

  /** Ends the run once nothing more may be sent and nothing is outstanding. */
  maybeFinish(): void {
    if (this.finished || this.outstanding > 0 || this.canSend()) return;
    this.finished = true;
    this.end = performance.now();
    this.onFinish();
    this.resolveDone();
  }
}

interface TcpConn {
  sock: Socket | null;
  buf: Buffer | null;
  scratch: Buffer;
  view: Buffer;
  id: number;
  t0: number;
  busy: boolean;
}

function driveTcp(run: Run, o: NativeLoadOptions, timeoutMs: number, maxLen: number): { stop(): void; go(): void } {
  // tcp-new: each answered request ends its connection (closed by the client) and the next one opens another
  const perRequest = o.transport === 'tcp-new';
  const conns: TcpConn[] = Array.from({ length: o.connections }, () => {
    const scratch = Buffer.alloc(maxLen);
    return { sock: null, buf: null, scratch, view: scratch.subarray(0, 0), id: 0, t0: 0, busy: false };
  });
  const reconnects = new Set<NodeJS.Timeout>();

  const send = (c: TcpConn) => {
    c.id = run.next(c);
    c.busy = true;
    c.t0 = performance.now();
    c.sock!.write(c.view);
  };
  /** the connection is gone or useless: its outstanding request is an error; another one takes its place */
  const drop = (c: TcpConn, why: string | null, delayMs: number) => {
    const s = c.sock;
    c.sock = null;
    c.buf = null;
    if (c.busy) {
      c.busy = false;
      run.outstanding--;
      run.error(why ?? 'connection closed with a request outstanding');
    }
    s?.destroy();
    if (run.canSend()) {
      const t = setTimeout(() => {
        reconnects.delete(t);
        if (run.canSend()) open(c);
        else run.maybeFinish();
      }, delayMs);
      reconnects.add(t);
    } else run.maybeFinish();
  };
  const onData = (c: TcpConn, s: Socket, chunk: Buffer) => {
    if (c.sock !== s) return;
    const b = c.buf === null ? chunk : Buffer.concat([c.buf, chunk]);
    let off = 0;
    while (b.length - off >= ENVELOPE_SIZE) {
      const len = b.readUInt32BE(off + MESSAGE_LENGTH_AT);
      if (len > MAX_TCP_MESSAGE) return drop(c, `response announcing ${len} message bytes`, 0);
      const end = off + ENVELOPE_SIZE + len;
      if (b.length < end) break;
      const id = b.readUInt32BE(off + REQUEST_ID_AT);
      if (!c.busy || id !== c.id) return drop(c, `unexpected response (requestId ${id}, waiting for ${c.busy ? c.id : 'none'})`, 0);
      c.busy = false;
      run.outstanding--;
      run.answered(c.t0, b, off, off + ENVELOPE_SIZE, len, id);
      off = end;
    }
    c.buf = off === b.length ? null : b.subarray(off);
    if (c.busy) return;
    if (perRequest && c.buf === null) {
      c.sock = null;
      s.destroy();
      if (run.canSend()) open(c);
      else run.maybeFinish();
      return;
    }
    if (c.buf !== null) {
      // part of a message nothing was asked for
      run.error(`tcp: ${c.buf.length} stray bytes after a response`);
      return drop(c, null, 0);
    }
    if (run.canSend()) send(c);
    else run.maybeFinish();
  };
  const open = (c: TcpConn) => {
    const s = connect({ port: o.port, host: HOST, noDelay: true });
    c.sock = s;
    c.buf = null;
    s.on('data', (chunk: Buffer) => onData(c, s, chunk));
    s.on('error', (err) => {
      if (c.sock === s) drop(c, `tcp: ${err.message}`, 50);
    });
    s.on('close', () => {
      if (c.sock === s) drop(c, null, 0);
    });
    send(c); // written once connected
  };
  const timer = setInterval(() => {
    const now = performance.now();
    for (const c of conns) if (c.busy && now - c.t0 > timeoutMs) drop(c, `tcp: no answer within ${timeoutMs} ms`, 0);
  }, Math.min(250, timeoutMs / 4));
  return {
    go() {
      for (const c of conns) if (run.canSend()) open(c);
      run.maybeFinish();
    },
    stop() {
      clearInterval(timer);
      for (const t of reconnects) clearTimeout(t);
      for (const c of conns) {
        const s = c.sock;
        c.sock = null;
        s?.destroy();
      }
    },
  };
}

interface UdpSlot {
  scratch: Buffer;
  view: Buffer;
  id: number;
  t0: number;
  busy: boolean;
  /** a response in fragments being put together */
  asm: Buffer | null;
  seen: Uint8Array | null;
  got: number;
}

function driveUdp(run: Run, o: NativeLoadOptions, timeoutMs: number, maxLen: number, sock: UdpSocket): { stop(): void; go(): void } {
  const slots: UdpSlot[] = Array.from({ length: o.connections }, () => {
    const scratch = Buffer.alloc(maxLen);
    return { scratch, view: scratch.subarray(0, 0), id: 0, t0: 0, busy: false, asm: null, seen: null, got: 0 };
  });
  const pending = new Map<number, UdpSlot>();

  const send = (s: UdpSlot) => {
    s.id = run.next(s);
    s.busy = true;
    s.asm = null;
    s.seen = null;
    s.got = 0;
    pending.set(s.id, s);
    s.t0 = performance.now();
    sock.send(s.view);
  };
  const free = (s: UdpSlot) => {
    pending.delete(s.id);
    s.busy = false;
    s.asm = null;
    s.seen = null;
    run.outstanding--;
    if (run.canSend()) send(s);
    else run.maybeFinish();
  };
  sock.on('message', (d: Buffer) => {
    if (d.length < ENVELOPE_SIZE) return;
    const id = d.readUInt32BE(REQUEST_ID_AT);
    const s = pending.get(id);
    if (s === undefined) return; // late (timed out) or repeated
    const seq = d.readUInt32BE(SEQUENCE_AT);
    const len = d.readUInt32BE(MESSAGE_LENGTH_AT);
    const payload = d.length - ENVELOPE_SIZE;
    if (seq === 0 && payload >= len) {
      run.answered(s.t0, d, 0, ENVELOPE_SIZE, len, id);
      return free(s);
    }
    // one fragment of a longer message: sequence k carries bytes k·492 … of it
    const off = seq * UDP_FRAGMENT_PAYLOAD;
    if (len > MAX_UDP_MESSAGE || off >= len || (s.asm !== null && s.asm.length !== len)) {
      run.error(`udp: bad fragment (sequence ${seq}, messageLength ${len})`);
      return free(s);
    }
    if (s.asm === null) {
      s.asm = Buffer.alloc(len);
      s.seen = new Uint8Array(Math.ceil(len / UDP_FRAGMENT_PAYLOAD));
      s.got = 0;
    }
    if (s.seen![seq] === 1) return;
    const n = Math.min(payload, len - off);
    d.copy(s.asm, off, ENVELOPE_SIZE, ENVELOPE_SIZE + n);
    s.seen![seq] = 1;
    s.got += n;
    if (s.got === len) {
      // the envelope checked is this (last) fragment's: same requestId, messageLength = the whole message
      run.answered(s.t0, Buffer.concat([d.subarray(0, ENVELOPE_SIZE), s.asm]), 0, ENVELOPE_SIZE, len, id);
      free(s);
    }
  });
  // a send that failed leaves its slot to the timeout, which counts the error; this says why
  sock.on('error', (err) => {
    run.firstError ??= `udp: ${err.message}`;
  });
  const timer = setInterval(() => {
    const now = performance.now();
    for (const s of slots) {
      if (s.busy && now - s.t0 > timeoutMs) {
        run.error(`udp: no (whole) answer within ${timeoutMs} ms`);
        free(s);
      }
    }
  }, Math.min(250, timeoutMs / 4));
  return {
    go() {
      for (const s of slots) if (run.canSend()) send(s);
      run.maybeFinish();
    },
    stop() {
      clearInterval(timer);
      pending.clear();
    },
  };
}

/**
 * Closed-loop native resolution load on 127.0.0.1:`port`. Requests are encoded before timing; sending one copies its
 * prebuilt bytes and patches the requestId. `non2xx` counts answers whose responseCode is not 1, `statusCodes` is keyed
 * by responseCode; CPU and RSS are the server's (and its workers'), from /proc, as lib's `load` reads them.
 */
export async function nativeLoad(o: NativeLoadOptions): Promise<NativeLoadResult> {
  if (!Number.isInteger(o.connections) || o.connections <= 0) throw new Error('nativeLoad: connections must be a positive integer');
  if (o.amount !== undefined && (!Number.isInteger(o.amount) || o.amount <= 0)) throw new Error('nativeLoad: amount must be a positive integer');
  const requests = buildRequests(o.handles, o.transport);
  const maxLen = requests.reduce((m, r) => Math.max(m, r.length), 0);
  const timeoutMs = o.timeoutMs ?? (o.transport === 'udp' ? 2000 : 10_000);

  let udp: UdpSocket | null = null;
  if (o.transport === 'udp') {
    const s = createSocket('udp4');
    udp = s;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.connect(o.port, HOST, () => {
        s.off('error', reject);
        resolve();
      });
    });
  }

  const pids = () => (o.pid === undefined ? [] : [o.pid, ...childPids(o.pid)]);
  const cpu = () => pids().reduce((a, p) => a + cpuMicros(p), 0);
  const rss = () => pids().reduce((a, p) => a + rssBytes(p), 0);
  let rssMax = o.pid === undefined ? 0 : rss();
  const sampler = o.pid === undefined ? undefined : setInterval(() => (rssMax = Math.max(rssMax, rss())), 250);
  let cpu1 = 0;
  let driver: { stop(): void; go(): void } | null = null;
  const cpu0 = cpu();
  const run = new Run(requests, o, () => {
    cpu1 = cpu();
    driver?.stop();
  });
  driver = o.transport === 'udp' ? driveUdp(run, o, timeoutMs, maxLen, udp!) : driveTcp(run, o, timeoutMs, maxLen);
  try {
    driver.go();
    await run.done;
  } finally {
    if (sampler) clearInterval(sampler);
    if (udp !== null) udp.close();
  }
  const seconds = (run.end - run.start) / 1000;
  const [p50, p99, p999] = run.lat.quantiles();
  return {
    requests: run.requests,
    seconds,
    rps: seconds > 0 ? run.requests / seconds : 0,
    p50,
    p99,
    p999,
    errors: run.errors,
    non2xx: run.notOk,
    cpuUsPerReq: o.pid === undefined || run.requests === 0 ? null : (cpu1 - cpu0) / run.requests,
    rssMaxBytes: o.pid === undefined ? null : rssMax,
    statusCodes: run.codes,
    firstError: run.firstError,
  };
}

/**
 * A port free on 127.0.0.1 for both TCP and UDP at the moment of asking (TCP takes any free one, UDP must bind the
 * same number; a few tries). Something else may take it before the node binds it; the node then fails to start.
 */
export async function freeNativePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const tcp = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(0, HOST, () => {
        const a = tcp.address();
        resolve(typeof a === 'object' && a !== null ? a.port : 0);
      });
    });
    const udp = createSocket('udp4');
    const udpOk = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, HOST, () => resolve(true));
    });
    await new Promise<void>((r) => tcp.close(() => r()));
    if (udpOk) await new Promise<void>((r) => udp.close(() => r()));
    else {
      try {
        udp.close();
      } catch {
        // never bound
      }
    }
    if (udpOk && port > 0) return port;
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1');
}

/** Waits until the native TCP listener on `port` accepts a connection (the node logs it just after HTTP is up). */
export async function waitNative(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: HOST });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`the native listener on ${HOST}:${port} did not come up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
