/**
 * Text fields as gearmand reads them: C strings, copied or printed with "%s" / "%.*s", which
 * stop at the first NUL. A field may carry NULs (a payload is bytes, spec 1.1); where gearmand
 * reads it as a string, what follows the first NUL is not seen.
 */
export function cString(text: string): string {
  const nul = text.indexOf('\0');
  return nul === -1 ? text : text.slice(0, nul);
}
