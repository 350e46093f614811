/**
 * Normalize what differs between two correct servers and runs: job handles (host name and
 * counter), process ids, file descriptors and version strings. Everything else is compared
 * byte for byte.
 */

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Names job handles `<H1>`, `<H2>`, ... in order of first sight, so a scenario can assert
 * "the second submission got the first job's handle" without knowing the handle format.
 */
export class HandleNames {
  private readonly names = new Map<string, string>();

  /** Register a handle (from JOB_CREATED or JOB_ASSIGN*) and return its name. */
  learn(handle: string): string {
    let name = this.names.get(handle);
    if (name === undefined) {
      name = `<H${this.names.size + 1}>`;
      this.names.set(handle, name);
    }
    return name;
  }

  /** The handle behind a name, for sending it back to the server. */
  handleOf(name: string): string {
    for (const [handle, n] of this.names) if (n === name) return handle;
    throw new Error(`no handle named ${name}`);
  }

  /** Replace every known handle in `text` by its name (longest first; not followed by a digit). */
  normalize(text: string): string {
    if (this.names.size === 0) return text;
    const handles = [...this.names.keys()].sort((a, b) => b.length - a.length);
    const pattern = new RegExp(`(?:${handles.map(escapeRegExp).join('|')})(?![0-9])`, 'g');
    return text.replace(pattern, (h) => this.names.get(h)!);
  }
}

/** `workers` lines start with the server-side fd: replace it (spec 2.2). */
export function normalizeWorkersListing(listing: string): string {
  return listing.replace(/^\d+ /gm, '<fd> ');
}

/** Sort the lines of a listing before its `.` terminator (hash order and thread order vary). */
export function sortListing(listing: string): string {
  const lines = listing.split('\n');
  const dot = lines.lastIndexOf('.');
  if (dot === -1) return listing;
  const body = lines.slice(0, dot).sort();
  return [...body, ...lines.slice(dot)].join('\n');
}
