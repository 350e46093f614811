/**
 * Function-name globs for token grants: `*` matches any run of characters (dots and slashes
 * included), `?` one character; everything else is literal. No character classes, no
 * backtracking blow-up: matching is linear-time greedy with one backtrack point.
 */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let starP = -1;
  let starN = 0;
  while (n < name.length) {
    const c = pattern[p];
    if (c === '*') {
      starP = p++;
      starN = n;
    } else if (c !== undefined && (c === '?' || c === name[n])) {
      p++;
      n++;
    } else if (starP !== -1) {
      p = starP + 1;
      n = ++starN;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Whether any of the globs matches. */
export function anyGlobMatches(patterns: readonly string[], name: string): boolean {
  return patterns.some((pattern) => globMatch(pattern, name));
}
