/**
 * A MessagePack encoder for what BullMQ's add scripts unpack (cmsgpack in
 * Redis's Lua): nil, booleans, numbers, strings, arrays and maps with string
 * keys, in their insertion order. Lua keeps one kind of number, so an integer
 * outside the small forms is sent as a float64: it unpacks to the same value.
 */
import { ByteWriter } from './byte-writer.js';

export type Packable = null | undefined | boolean | number | string | Packable[] | { [key: string]: Packable };

/** one for every pack: a value is written whole before the next starts */
const out = new ByteWriter();

export function pack(value: Packable): Buffer {
  write(value);
  return out.take();
}

function write(value: Packable): void {
  if (value === null || value === undefined) out.u8(0xc0);
  else if (typeof value === 'boolean') out.u8(value ? 0xc3 : 0xc2);
  else if (typeof value === 'number') number(value);
  else if (typeof value === 'string') {
    const length = Buffer.byteLength(value, 'utf8');
    head(length, 0xa0, 32, 0xd9, 0xda, 0xdb);
    out.utf8(value, length);
  } else if (Array.isArray(value)) {
    head(value.length, 0x90, 16, undefined, 0xdc, 0xdd);
    for (const item of value) write(item);
  } else {
    const entries = Object.entries(value);
    head(entries.length, 0x80, 16, undefined, 0xde, 0xdf);
    for (const [key, item] of entries) {
      write(key);
      write(item);
    }
  }
}

function number(n: number): void {
  if (Number.isInteger(n) && n >= 0 && n < 128) out.u8(n);
  else if (Number.isInteger(n) && n < 0 && n >= -32) out.u8(0x100 + n);
  else if (Number.isInteger(n) && n >= -0x8000_0000 && n < 0x8000_0000) {
    out.u8(0xd2);
    out.i32(n);
  } else {
    out.u8(0xcb);
    out.f64(n);
  }
}

/** The type byte (and length) of a string, array or map of `length` items. */
function head(length: number, fix: number, fixLimit: number, bits8: number | undefined, bits16: number, bits32: number): void {
  if (length < fixLimit) out.u8(fix | length);
  else if (bits8 !== undefined && length < 0x100) {
    out.u8(bits8);
    out.u8(length);
  } else if (length < 0x10000) {
    out.u8(bits16);
    out.u16(length);
  } else {
    out.u8(bits32);
    out.u32(length);
  }
}
