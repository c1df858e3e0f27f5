import { StringDecoder } from 'node:string_decoder';

/** Longest line delivered in one piece, in UTF-8 bytes; longer lines arrive split. */
export const MAX_LINE_BYTES = 64 * 1024;

/**
 * Masks secret values in text (`SecretMask`). The splitter applies it to a line before cutting
 * it, so no secret is ever cut in two pieces that the log's own masking would see apart.
 */
export interface LineMask {
  mask(text: string): string;
  /** The longest text `mask` replaces, in UTF-8 bytes. */
  readonly longestBytes: number;
}

/**
 * Turns a byte stream (a process's stdout or stderr) into lines: splits on `\n`, drops the `\r`
 * of `\r\n`, decodes UTF-8 safely across chunk boundaries (a character split between two chunks
 * is kept whole; invalid bytes become U+FFFD), and cuts a line longer than `maxLineBytes` into
 * pieces of at most that many bytes, at character boundaries. `end()` flushes a trailing line
 * that has no newline.
 *
 * With a `mask`, a line is masked before it is cut: a whole long line at once; a line still
 * arriving (cut to bound memory) is masked as far as it has come and cut only where at least
 * `longestBytes - 1` bytes stay behind, so a secret whose start has arrived but not its end is
 * never cut off: it is masked whole when the rest arrives. Lines that are not cut are delivered
 * as they are (the log writer masks every line).
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private pendingBytes = 0;
  private closed = false;

  /** True once `end()` ran: later writes throw. */
  get ended(): boolean {
    return this.closed;
  }
  /** Bytes kept behind a cut of a line still arriving (a secret's start may be among them). */
  private readonly overlap: number;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineBytes = MAX_LINE_BYTES,
    private readonly secrets?: LineMask,
  ) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 4) {
      throw new RangeError('maxLineBytes must be an integer >= 4');
    }
    this.overlap = Math.max(0, (secrets?.longestBytes ?? 0) - 1);
  }

  write(chunk: Buffer | string): void {
    if (this.closed) throw new Error('LineSplitter: write after end');
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const line = this.pending + text.slice(start, nl);
      this.pending = '';
      this.pendingBytes = 0;
      this.emit(line.endsWith('\r') ? line.slice(0, -1) : line);
      start = nl + 1;
    }
    if (start < text.length) {
      const rest = text.slice(start);
      this.pending += rest;
      this.pendingBytes += Buffer.byteLength(rest, 'utf8');
      // A `\r` at the very end may be half of a `\r\n`: do not count it towards the limit.
      const counted = this.pendingBytes - (this.pending.endsWith('\r') ? 1 : 0);
      if (counted > this.maxLineBytes + this.overlap) this.cutPending();
    }
  }

  /** Flushes what is left (a last line without a newline). Idempotent. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    const line = this.pending + this.decoder.end();
    this.pending = '';
    this.pendingBytes = 0;
    if (line !== '') this.emit(line.endsWith('\r') ? line.slice(0, -1) : line);
  }

  /**
   * Emits full-size pieces of the pending partial line (masked first), keeping the (short)
   * remainder, and at least `overlap` bytes of it.
   */
  private cutPending(): void {
    let bytes = Buffer.from(this.mask(this.pending), 'utf8');
    while (
      bytes.length - (bytes[bytes.length - 1] === 0x0d ? 1 : 0) >
      this.maxLineBytes + this.overlap
    ) {
      const cut = this.boundary(bytes);
      this.onLine(bytes.subarray(0, cut).toString('utf8'));
      bytes = bytes.subarray(cut);
    }
    this.pending = bytes.toString('utf8');
    this.pendingBytes = bytes.length;
  }

  private emit(line: string): void {
    if (line.length * 3 <= this.maxLineBytes || Buffer.byteLength(line) <= this.maxLineBytes) {
      this.onLine(line);
      return;
    }
    let bytes = Buffer.from(this.mask(line), 'utf8');
    while (bytes.length > this.maxLineBytes) {
      const cut = this.boundary(bytes);
      this.onLine(bytes.subarray(0, cut).toString('utf8'));
      bytes = bytes.subarray(cut);
    }
    this.onLine(bytes.toString('utf8'));
  }

  private mask(text: string): string {
    return this.secrets ? this.secrets.mask(text) : text;
  }

  /** The largest cut <= maxLineBytes that does not split a UTF-8 character. */
  private boundary(bytes: Buffer): number {
    let cut = this.maxLineBytes;
    // Continuation bytes are 10xxxxxx; a character is at most 4 bytes.
    while (cut > this.maxLineBytes - 3 && (bytes[cut] & 0xc0) === 0x80) cut--;
    return cut;
  }
}
