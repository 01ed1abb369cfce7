/**
 * Bytes written one after another into one buffer that grows, then copied
 * out once: an encoded command or packed value is one allocation, not one
 * per word (queuing an array of 10,000 tasks made over half a million small
 * buffers, and as much garbage to collect).
 */
export class ByteWriter {
  private buf: Buffer;
  private at = 0;

  constructor(private readonly initialSize = 4096) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  u8(byte: number): void {
    this.room(1);
    this.buf[this.at++] = byte;
  }

  u16(n: number): void {
    this.room(2);
    this.at = this.buf.writeUInt16BE(n, this.at);
  }

  u32(n: number): void {
    this.room(4);
    this.at = this.buf.writeUInt32BE(n, this.at);
  }

  i32(n: number): void {
    this.room(4);
    this.at = this.buf.writeInt32BE(n, this.at);
  }

  f64(n: number): void {
    this.room(8);
    this.at = this.buf.writeDoubleBE(n, this.at);
  }

  bytes(bytes: Buffer): void {
    this.room(bytes.length);
    this.at += bytes.copy(this.buf, this.at);
  }

  /** `text` as UTF-8, whose length in bytes the caller has (Buffer.byteLength) for its header. */
  utf8(text: string, byteLength: number): void {
    this.room(byteLength);
    this.at += this.buf.write(text, this.at, byteLength, 'utf8');
  }

  /** What was written since the last take, in a buffer of its own; the writer is empty again. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.at);
    this.buf.copy(out, 0, 0, this.at);
    this.at = 0;
    // a big batch's buffer is not kept for the small ones that follow
    if (this.buf.length > 16 * this.initialSize) this.buf = Buffer.allocUnsafe(this.initialSize);
    return out;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
}
