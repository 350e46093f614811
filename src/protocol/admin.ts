/**
 * Admin text protocol framing (gearman-spec 2.1): tokens split on runs of spaces, command
 * words compared ignoring case. The reply texts live with the commands that produce them.
 */
export const MAX_ADMIN_TOKENS = 5;

/** Split an admin line (latin1) into tokens. A leading or trailing space yields an empty token. */
export function tokenizeAdminLine(line: string): string[] {
  return line.split(/ +/);
}

/**
 * Lower case as C's strcasecmp folds it in the "C" locale, which gearmand compares admin words
 * and `drop function` names with: ASCII letters only, so `É` and `é` stay different.
 */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** `ERR <code> <text>` with spaces as '+', as gearmand writes its error replies. */
export function adminError(code: string, text?: string): string {
  return text === undefined ? `ERR ${code}\r\n` : `ERR ${code} ${text.replace(/ /g, '+')}\r\n`;
}

export const ADMIN_OK = 'OK\r\n';
export const LISTING_END = '.\n';
