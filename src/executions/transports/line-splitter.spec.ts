import { MASK, SecretMask } from '../secret-mask.js';
import { LineSplitter, MAX_LINE_BYTES } from './line-splitter.js';

function split(chunks: Array<Buffer | string>, maxLineBytes?: number): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line), maxLineBytes);
  for (const chunk of chunks)
    splitter.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  splitter.end();
  return lines;
}

describe('LineSplitter', () => {
  it('splits on \\n and keeps empty lines', () => {
    expect(split(['a\nb\n\nc\n'])).toEqual(['a', 'b', '', 'c']);
  });

  it('joins lines across chunks', () => {
    expect(split(['hel', 'lo\nwor', 'ld\n'])).toEqual(['hello', 'world']);
  });

  it('drops the \\r of \\r\\n, also when \\r and \\n arrive in different chunks', () => {
    expect(split(['a\r\nb\r', '\nc\r\n'])).toEqual(['a', 'b', 'c']);
  });

  it('keeps a lone \\r inside a line', () => {
    expect(split(['progress 1\rprogress 2\n'])).toEqual(['progress 1\rprogress 2']);
  });

  it('flushes a trailing partial line at end, and nothing when output ended with \\n', () => {
    expect(split(['a\nlast'])).toEqual(['a', 'last']);
    expect(split(['a\n'])).toEqual(['a']);
    expect(split([])).toEqual([]);
    expect(split(['last\r'])).toEqual(['last']);
  });

  it('decodes a multi-byte character split across chunks', () => {
    const bytes = Buffer.from('héllo → 🔥\n', 'utf8');
    // Every possible split point, including inside the 4-byte emoji.
    for (let i = 1; i < bytes.length; i++) {
      expect(split([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(['héllo → 🔥']);
    }
    // One byte at a time.
    const single = [...bytes].map((b) => Buffer.from([b]));
    expect(split(single)).toEqual(['héllo → 🔥']);
  });

  it('replaces invalid UTF-8 with U+FFFD instead of throwing', () => {
    expect(split([Buffer.from([0x61, 0xff, 0x62, 0x0a])])).toEqual(['a\ufffdb']);
    // A truncated character at the very end is flushed as U+FFFD.
    expect(split([Buffer.from([0x61, 0xe2, 0x86])])).toEqual(['a\ufffd']);
  });

  it('caps a line at MAX_LINE_BYTES by splitting it', () => {
    expect(MAX_LINE_BYTES).toBe(65_536);
    const long = 'x'.repeat(MAX_LINE_BYTES * 2 + 10);
    const lines = split([long + '\nnext\n']);
    expect(lines.map((l) => l.length)).toEqual([MAX_LINE_BYTES, MAX_LINE_BYTES, 10, 4]);
    expect(lines.join('')).toBe(long + 'next');
  });

  it('caps a line that arrives without a newline, holding at most the limit', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line), 8);
    splitter.write(Buffer.from('0123456789'));
    expect(lines).toEqual(['01234567']);
    splitter.write(Buffer.from('abcdefgh'));
    expect(lines).toEqual(['01234567', '89abcdef']);
    splitter.end();
    expect(lines).toEqual(['01234567', '89abcdef', 'gh']);
  });

  it('never cuts inside a character when capping', () => {
    // 'é' is 2 bytes, '🔥' is 4: with a 7-byte cap no piece may end mid-character.
    const text = 'é🔥é🔥é🔥é🔥';
    for (const chunks of [[text + '\n'], [...text].map((c) => c)]) {
      const lines = split(chunks, 7);
      expect(lines.join('')).toBe(text);
      for (const line of lines) {
        expect(Buffer.byteLength(line)).toBeLessThanOrEqual(7);
        expect(line).not.toContain('\ufffd');
      }
    }
  });

  it('does not turn a \\r\\n at the cap into an extra empty line', () => {
    expect(split(['12345678\r', '\nz\n'], 8)).toEqual(['12345678', 'z']);
  });

  describe('a secret cut by the limit', () => {
    const secret = 'S3cr3t-t0ken-#42';
    const mask = new SecretMask([secret]);
    /** The pieces as the log stores them: each masked on its own. */
    const stored = (chunks: string[], max: number) => {
      const lines: string[] = [];
      const splitter = new LineSplitter((line) => lines.push(line), max, mask);
      for (const c of chunks) splitter.write(Buffer.from(c));
      splitter.end();
      return lines.map((l) => mask.mask(l));
    };
    const forms = [secret, Buffer.from(secret).toString('base64')];

    it('is masked wherever the cut falls, for a whole line and one still arriving', () => {
      const max = 64;
      for (const form of forms)
        for (let at = max - form.length - 1; at <= max + 1; at++) {
          const line = 'x'.repeat(at) + form + 'y'.repeat(max * 2 - at);
          const ways = {
            whole: [line + '\n'],
            'one byte at a time': [...line, '\n'],
            'in two chunks around the cut': [line.slice(0, max - 3), line.slice(max - 3)],
          };
          for (const [how, chunks] of Object.entries(ways)) {
            const lines = stored(chunks, max);
            const label = `${form} at ${at}, ${how}`;
            // Streamed, the unpadded base64 may be masked before its "==" arrives: "****==".
            if (how === 'whole' || form === secret)
              expect(lines.join(''), label).toBe(mask.mask(line));
            expect(lines.join(''), label).not.toContain(form.slice(0, 4));
            expect(lines.join(''), label).toContain(MASK);
            for (const l of lines)
              expect(Buffer.byteLength(l), label).toBeLessThanOrEqual(max + form.length);
          }
        }
    });

    it('at MAX_LINE_BYTES, in 64 KiB chunks as a pipe delivers them', () => {
      const line = 'x'.repeat(MAX_LINE_BYTES - 5) + secret + 'y'.repeat(100);
      const chunks = [line.slice(0, 65_536), line.slice(65_536), '\n'];
      const lines = stored(chunks, MAX_LINE_BYTES);
      expect(lines.join('')).toBe(mask.mask(line));
      expect(lines.join('')).not.toContain(secret.slice(0, 5));
      // Without a mask the same line is cut through the secret: what the mask is for.
      const raw: string[] = [];
      const plain = new LineSplitter((l) => raw.push(l));
      for (const c of chunks) plain.write(Buffer.from(c));
      plain.end();
      expect(raw.map((l) => mask.mask(l)).join('')).toContain(secret);
    });
  });

  it('end() is idempotent and write after end throws', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    splitter.write(Buffer.from('a'));
    splitter.end();
    splitter.end();
    expect(lines).toEqual(['a']);
    expect(() => splitter.write(Buffer.from('b'))).toThrow(/after end/);
  });
});
