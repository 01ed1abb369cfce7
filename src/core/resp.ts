/**
 * RESP2, Redis's wire protocol, for the light client (lite-redis.ts):
 * 1. a command is an array of bulk strings;
 * 2. replies are read as they arrive, any number per chunk or one over many
 *    chunks: simple strings and bulk strings as strings (UTF-8), integers as
 *    numbers, nil as null, arrays (nested) as arrays, errors as ReplyError
 *    values (a MULTI's EXEC may hold some among its results).
 */
import { ByteWriter } from './byte-writer.js';

/** An error reply of Redis (`-ERR ...`, `-NOSCRIPT ...`): its message is the reply's text. */
export class ReplyError extends Error {}
ReplyError.prototype.name = 'ReplyError';

export type Arg = string | number | Buffer;

/** one for every encoding: a batch of commands is written whole before the next */
const out = new ByteWriter();

/** Commands, as Redis reads them, one after another in one buffer. */
export function encodeCommands(commands: Arg[][]): Buffer {
  for (const args of commands) {
    ascii(`*${args.length}\r\n`);
    for (const arg of args) {
      if (Buffer.isBuffer(arg)) {
        ascii(`$${arg.length}\r\n`);
        out.bytes(arg);
      } else {
        const text = String(arg);
        const length = Buffer.byteLength(text, 'utf8');
        ascii(`$${length}\r\n`);
        out.utf8(text, length);
      }
      ascii('\r\n');
    }
  }
  return out.take();
}

function ascii(text: string): void {
  out.utf8(text, text.length);
}

const CRLF = Buffer.from('\r\n');

/** Not enough bytes yet for the value at hand. */
const INCOMPLETE = Symbol('incomplete');

/** Turns the bytes read from a connection into replies, handed to `onReply` in order. */
export class ReplyParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** bytes needed before parsing again is worth it (a bulk string's whole length once its header is read) */
  private needed = 0;
  /** arrays being filled: their elements so far and how many are still to come */
  private readonly open: Array<{ items: unknown[]; left: number }> = [];

  constructor(private readonly onReply: (reply: unknown) => void) {}

  feed(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.needed) return;
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    let pos = 0;
    for (;;) {
      const read = this.value(buf, pos);
      if (read === INCOMPLETE) break;
      pos = read.next;
      if (read.array !== undefined) {
        if (read.array === 0) this.done([]);
        else this.open.push({ items: [], left: read.array });
      } else this.done(read.value);
    }
    const rest = buf.subarray(pos);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    this.needed = Math.max(this.needed, rest.length + 1);
  }

  /** A value is complete: into the array being filled (completing it, maybe, and the ones around it), else a reply. */
  private done(value: unknown): void {
    for (;;) {
      const top = this.open.at(-1);
      if (!top) return this.onReply(value);
      top.items.push(value);
      if (--top.left > 0) return;
      this.open.pop();
      value = top.items;
    }
  }

  /** The value at `pos` (an array: only its length, its elements follow), or INCOMPLETE. */
  private value(buf: Buffer, pos: number): typeof INCOMPLETE | { next: number; value?: unknown; array?: number } {
    this.needed = 0;
    const eol = buf.indexOf(CRLF, pos);
    if (eol < 0) return INCOMPLETE;
    const line = buf.toString('utf8', pos + 1, eol);
    const next = eol + 2;
    switch (buf[pos]) {
      case 0x2b: // +
        return { next, value: line };
      case 0x2d: // -
        return { next, value: new ReplyError(line) };
      case 0x3a: // :
        return { next, value: Number(line) };
      case 0x24: {
        // $
        const length = Number(line);
        if (length < 0) return { next, value: null };
        if (buf.length < next + length + 2) {
          this.needed = next + length + 2 - pos;
          return INCOMPLETE;
        }
        return { next: next + length + 2, value: buf.toString('utf8', next, next + length) };
      }
      case 0x2a: {
        // *
        const length = Number(line);
        return length < 0 ? { next, value: null } : { next, array: length };
      }
      default:
        throw new Error(`Redis sent a reply QM cannot read (${JSON.stringify(buf.toString('utf8', pos, Math.min(eol, pos + 40)))})`);
    }
  }
}
