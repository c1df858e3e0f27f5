import { distance } from 'fastest-levenshtein';

/** ` (did you mean "x"?)` naming the closest known names (ties: all of them), or ''. */
export function didYouMean(unknown: string, known: readonly string[]): string {
  let best = Infinity;
  let names: string[] = [];
  for (const k of known) {
    const d = distance(unknown.toLowerCase(), k.toLowerCase());
    if (d < best) [best, names] = [d, [k]];
    else if (d === best) names.push(k);
  }
  if (!names.length || best > Math.max(2, Math.floor(unknown.length / 3))) return '';
  return ` (did you mean ${names
    .slice(0, 3)
    .map((n) => `"${n}"`)
    .join(' or ')}?)`;
}
