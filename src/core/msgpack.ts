/**
 * A MessagePack encoder for what BullMQ's add scripts unpack (cmsgpack in
 * Redis's Lua): nil, booleans, numbers, strings, arrays and maps with string
 * keys, in their insertion order. Lua keeps one kind of number, so an integer
 * outside the small forms is sent as a float64: it unpacks to the same value.
 */
export type Packable = null | undefined | boolean | number | string | Packable[] | { [key: string]: Packable };

export function pack(value: Packable): Buffer {
  const parts: Buffer[] = [];
  write(value, parts);
  return Buffer.concat(parts);
}

function write(value: Packable, parts: Buffer[]): void {
  if (value === null || value === undefined) parts.push(Buffer.of(0xc0));
  else if (typeof value === 'boolean') parts.push(Buffer.of(value ? 0xc3 : 0xc2));
  else if (typeof value === 'number') parts.push(number(value));
  else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    parts.push(head(bytes.length, 0xa0, 32, 0xd9, 0xda, 0xdb), bytes);
  } else if (Array.isArray(value)) {
    parts.push(head(value.length, 0x90, 16, undefined, 0xdc, 0xdd));
    for (const item of value) write(item, parts);
  } else {
    const entries = Object.entries(value);
    parts.push(head(entries.length, 0x80, 16, undefined, 0xde, 0xdf));
    for (const [key, item] of entries) {
      write(key, parts);
      write(item, parts);
    }
  }
}

function number(n: number): Buffer {
  if (Number.isInteger(n) && n >= 0 && n < 128) return Buffer.of(n);
  if (Number.isInteger(n) && n < 0 && n >= -32) return Buffer.of(0x100 + n);
  if (Number.isInteger(n) && n >= -0x8000_0000 && n < 0x8000_0000) {
    const b = Buffer.alloc(5);
    b[0] = 0xd2;
    b.writeInt32BE(n, 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = 0xcb;
  b.writeDoubleBE(n, 1);
  return b;
}

/** The type byte (and length) of a string, array or map of `length` items. */
function head(length: number, fix: number, fixLimit: number, bits8: number | undefined, bits16: number, bits32: number): Buffer {
  if (length < fixLimit) return Buffer.of(fix | length);
  if (bits8 !== undefined && length < 0x100) return Buffer.of(bits8, length);
  if (length < 0x10000) return Buffer.of(bits16, length >> 8, length & 0xff);
  const b = Buffer.alloc(5);
  b[0] = bits32;
  b.writeUInt32BE(length, 1);
  return b;
}
