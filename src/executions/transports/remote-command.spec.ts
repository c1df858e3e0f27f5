import { LineSplitter } from './line-splitter.js';
import { MAX_PREAMBLE_LINES, MarkedOutput } from './remote-command.js';

const MARKER = '__FIREBREAK_PGID_0123456789ab__';

/** Feeds `chunks` through a LineSplitter into a MarkedOutput, as the SSH client does. */
function read(chunks: string[]): { lines: string[]; rest: string[] } {
  const lines: string[] = [];
  const rest: string[] = [];
  const marked = new MarkedOutput(
    MARKER,
    (line) => lines.push(line),
    (r) => rest.push(r),
  );
  const splitter = new LineSplitter(marked.line);
  for (const chunk of chunks) splitter.write(chunk);
  splitter.end();
  marked.end();
  return { lines, rest };
}

describe('MarkedOutput', () => {
  it('drops what the login shell printed before the marker, whole and partial lines', () => {
    expect(
      read(['rc: warning\nrc: partial', ` line${MARKER} 4242\nerr from the command\n`]),
    ).toEqual({ lines: ['err from the command'], rest: [' 4242'] });
  });

  it('finds a marker split across chunks, and never delivers it', () => {
    const text = `noise\n${MARKER} 77\nout\n`;
    for (let cut = 1; cut < text.length; cut++) {
      expect(read([text.slice(0, cut), text.slice(cut)])).toEqual({
        lines: ['out'],
        rest: [' 77'],
      });
    }
  });

  it('passes later lines that contain the marker text through untouched', () => {
    expect(read([`${MARKER}\n${MARKER}\nx\n`])).toEqual({ lines: [MARKER, 'x'], rest: [''] });
  });

  it('delivers the held lines when no marker came (the wrapper never ran)', () => {
    expect(read(['bash: /bin/sh: No such file or directory\n'])).toEqual({
      lines: ['bash: /bin/sh: No such file or directory'],
      rest: [],
    });
  });

  it('holds at most MAX_PREAMBLE_LINES, then delivers them and still strips the marker', () => {
    const noise = Array.from({ length: MAX_PREAMBLE_LINES + 5 }, (_, i) => `n${i}`);
    const { lines, rest } = read([`${noise.join('\n')}\n${MARKER} 9\ncmd\n`]);
    expect(lines).toEqual([...noise, 'cmd']);
    expect(rest).toEqual([' 9']);
  });
});
