import { yieldPause } from './alert-processor.js';

describe('yieldPause: processing leaves the CPU to a saturated intake, within bounds', () => {
  it('pauses four times the transaction (a fifth of the time processing) while the intake is saturated', () => {
    expect(yieldPause(10, true, 0)).toBe(40);
    expect(yieldPause(2.5, true, 9_000)).toBe(10);
  });
  it('never pauses while the intake keeps up', () => {
    expect(yieldPause(10, false, 0)).toBe(0);
  });
  it('pauses at most a second, however long the transaction took', () => {
    expect(yieldPause(5_000, true, 0)).toBe(1_000);
  });
  it('never pauses once the oldest delivery taken was stored over 10 s ago', () => {
    expect(yieldPause(10, true, 10_001)).toBe(0);
    expect(yieldPause(10, true, 10_000)).toBe(40);
  });
});
