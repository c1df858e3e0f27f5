import { fieldPath, storableText, unstorablePath } from './storable.js';

describe('storable text', () => {
  it('refuses NUL and unpaired surrogates, keeps paired ones (emoji) and ordinary text', () => {
    expect(storableText('disk full on db-1')).toBe(true);
    expect(storableText('😀 \ud83d\ude00')).toBe(true);
    expect(storableText('a\u0000b')).toBe(false);
    expect(storableText('\ud800')).toBe(false);
    expect(storableText('x\udc00y')).toBe(false);
    // A low surrogate before its high one is two unpaired ones.
    expect(storableText('\ude00\ud83d')).toBe(false);
  });

  it('names the field of a bad string, value or key, in nested objects and arrays', () => {
    expect(unstorablePath({ title: 'ok', labels: { a: 'b' }, items: ['x', 1, null] })).toBeNull();
    expect(unstorablePath({ title: 'a\u0000b' })).toBe('title');
    expect(unstorablePath({ alerts: [{ labels: { a: 'ok' } }, { labels: { a: '\ud800' } }] })).toBe(
      'alerts[1].labels.a',
    );
    expect(unstorablePath({ labels: { 'bad\u0000key': 'v' } })).toBe('labels.bad\u0000key');
    expect(unstorablePath('\ud800')).toBe('body');
    expect(unstorablePath(['ok', ['\u0000']])).toBe('[1][0]');
  });

  it('leaves anything but plain objects, arrays and strings alone: a raw Buffer body, numbers', () => {
    expect(unstorablePath(Buffer.from('a\u0000b'))).toBeNull();
    expect(unstorablePath({ n: 1, b: true, u: undefined })).toBeNull();
    expect(unstorablePath(undefined)).toBeNull();
  });

  it('walks a body nested far deeper than the stack would allow a recursive walk', () => {
    const deep = JSON.parse('['.repeat(200_000) + '"\\u0000"' + ']'.repeat(200_000)) as unknown;
    const path = unstorablePath(deep);
    expect(path).toBe('[0]'.repeat(200_000));
  });

  it('spells paths as the adapters and the validation pipe do', () => {
    expect(fieldPath(['alerts', 0, 'labels', 'severity'])).toBe('alerts[0].labels.severity');
    expect(fieldPath([])).toBe('body');
  });
});
