import { InProcessExecutionQueue } from './execution-queue.js';
import { mapLimit } from './semaphore.js';

describe('InProcessExecutionQueue', () => {
  it('runs each id once even when enqueued twice, at most `concurrency` at a time', async () => {
    const q = new InProcessExecutionQueue();
    const seen: string[] = [];
    let active = 0;
    let peak = 0;
    const done = new Promise<void>((resolve) => {
      q.consume(async (id) => {
        active++;
        peak = Math.max(peak, active);
        seen.push(id);
        await new Promise((r) => setTimeout(r, 5));
        active--;
        if (seen.length === 5) resolve();
      }, 2);
    });
    for (const id of ['a', 'b', 'a', 'c', 'd', 'e', 'b']) await q.enqueue(id);
    await done;
    await q.close();
    expect(seen.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(peak).toBe(2);
  });

  it('keeps ids enqueued before a consumer exists, and accepts nothing after close', async () => {
    const q = new InProcessExecutionQueue();
    await q.enqueue('early');
    const got: string[] = [];
    q.consume(async (id) => void got.push(id), 1);
    await new Promise((r) => setTimeout(r, 5));
    await q.close();
    await q.enqueue('late');
    expect(got).toEqual(['early']);
  });
});

describe('mapLimit', () => {
  it('bounds concurrency and keeps input order', async () => {
    let active = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 3, 2, 4], 2, async (n) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, n));
      active--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 30, 20, 40]);
    expect(peak).toBe(2);
  });
});
