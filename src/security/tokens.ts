/**
 * Bearer tokens for the HTTP front (gearmand has no authentication: gearman-spec 6.4, 7 B9).
 *
 * Tokens file (JSON):
 *   { "tokens": [
 *       { "name": "billing",                      // shown in logs, never the secret
 *         "token": "at least 16 characters",       // or "sha256": "<64 hex of SHA-256(token)>"
 *         "functions": ["billing.*", "resize_?"],  // globs over function names (src/security/glob.ts)
 *         "rights": ["submit", "background", "status", "cancel", "admin"],
 *         "rate": { "perSecond": 50, "burst": 100 } } ] }  // optional, overrides --http-token-rate
 *
 * Rights: submit = foreground jobs, background = background jobs, status = job and unique
 * status, cancel = DELETE a job, admin = the function and worker listings.
 * Presented tokens are hashed and compared with every entry in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RateConfig } from './config.js';
import { anyGlobMatches } from './glob.js';
import { parseJsonText, readSettingsFile } from './json-file.js';

export const HttpRights = ['submit', 'background', 'status', 'cancel', 'admin'] as const;
export type HttpRight = (typeof HttpRights)[number];

export const MIN_TOKEN_LENGTH = 16;

export class TokensFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokensFileError';
  }
}

const tokensFileError = (message: string) => new TokensFileError(message);

export interface TokenGrant {
  readonly name: string;
  readonly functions: readonly string[];
  readonly rights: ReadonlySet<HttpRight>;
  readonly rate: RateConfig | undefined;
}

interface Entry {
  readonly hash: Buffer;
  readonly grant: TokenGrant;
}

export type AuthResult =
  | { readonly kind: 'missing' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'ok'; readonly grant: TokenGrant };

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest();

/** Whether a grant allows `right`, on `functionName` when the right concerns a function. */
export function grantAllows(grant: TokenGrant, right: HttpRight, functionName?: string): boolean {
  if (!grant.rights.has(right)) return false;
  return functionName === undefined || anyGlobMatches(grant.functions, functionName);
}

export class TokenRegistry {
  private readonly entries: readonly Entry[];
  constructor(entries: readonly Entry[]) {
    this.entries = entries;
  }

  get size(): number {
    return this.entries.length;
  }

  static parse(text: string, source = 'tokens file'): TokenRegistry {
    const json = parseJsonText(text, source, tokensFileError);
    const list = (json as { tokens?: unknown } | null)?.tokens;
    if (!Array.isArray(list)) throw new TokensFileError(`${source}: expected {"tokens": [...]}`);
    const names = new Set<string>();
    const hashes = new Set<string>();
    const entries = list.map((raw, i): Entry => {
      const where = `${source}: tokens[${i}]`;
      if (typeof raw !== 'object' || raw === null) throw new TokensFileError(`${where} must be an object`);
      const r = raw as Record<string, unknown>;
      if (typeof r.name !== 'string' || r.name === '') throw new TokensFileError(`${where}.name must be a non-empty string`);
      if (names.has(r.name)) throw new TokensFileError(`${where}: the name '${r.name}' is used twice`);
      names.add(r.name);
      let hash: Buffer;
      if (typeof r.token === 'string' && r.sha256 === undefined) {
        if (r.token.length < MIN_TOKEN_LENGTH) throw new TokensFileError(`${where} (${r.name}): a token needs at least ${MIN_TOKEN_LENGTH} characters`);
        if (!/^[\x21-\x7e]+$/.test(r.token)) throw new TokensFileError(`${where} (${r.name}): a token is printable ASCII without spaces`);
        hash = sha256(r.token);
      } else if (typeof r.sha256 === 'string' && r.token === undefined) {
        if (!/^[0-9a-fA-F]{64}$/.test(r.sha256)) throw new TokensFileError(`${where} (${r.name}).sha256 must be 64 hex digits`);
        hash = Buffer.from(r.sha256, 'hex');
      } else {
        throw new TokensFileError(`${where} (${r.name}) needs exactly one of "token" or "sha256"`);
      }
      if (hashes.has(hash.toString('hex'))) throw new TokensFileError(`${where} (${r.name}): the same token is listed twice`);
      hashes.add(hash.toString('hex'));
      if (!Array.isArray(r.functions) || r.functions.some((f) => typeof f !== 'string')) {
        throw new TokensFileError(`${where} (${r.name}).functions must be a list of globs, e.g. ["*"] or ["billing.*"]`);
      }
      if (!Array.isArray(r.rights) || r.rights.some((x) => !HttpRights.includes(x as HttpRight))) {
        throw new TokensFileError(`${where} (${r.name}).rights must be a list of ${HttpRights.join(', ')}`);
      }
      let rate: RateConfig | undefined;
      if (r.rate !== undefined) {
        const { perSecond, burst } = (r.rate ?? {}) as Record<string, unknown>;
        if (typeof perSecond !== 'number' || !(perSecond >= 0) || !Number.isFinite(perSecond)) {
          throw new TokensFileError(`${where} (${r.name}).rate.perSecond must be a non-negative number`);
        }
        if (burst !== undefined && (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 0)) {
          throw new TokensFileError(`${where} (${r.name}).rate.burst must be a non-negative integer`);
        }
        rate = { perSecond, burst: (burst as number | undefined) ?? Math.ceil(2 * perSecond) };
      }
      return {
        hash,
        grant: Object.freeze({ name: r.name, functions: [...(r.functions as string[])], rights: new Set(r.rights as HttpRight[]), rate }),
      };
    });
    return new TokenRegistry(entries);
  }

  static load(file: string): TokenRegistry {
    return TokenRegistry.parse(readSettingsFile(file, 'the tokens file', tokensFileError), file);
  }

  /** Check an Authorization header value. Every entry is compared, so timing says nothing. */
  authenticate(authorization: string | undefined): AuthResult {
    if (authorization === undefined || authorization === '') return { kind: 'missing' };
    const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(authorization);
    if (m === null) return { kind: 'malformed' };
    const presented = sha256(m[1]!);
    let found: TokenGrant | undefined;
    for (const entry of this.entries) {
      // No early exit: the loop takes the same time whichever entry matches.
      if (timingSafeEqual(entry.hash, presented) && found === undefined) found = entry.grant;
    }
    return found === undefined ? { kind: 'invalid' } : { kind: 'ok', grant: found };
  }
}

/**
 * The tokens in force, replaced as a whole on reload (SIGHUP). A file that fails to parse
 * leaves the previous tokens in force, so a typo never opens or closes the door.
 */
export class TokenFile {
  readonly file: string;
  private current: TokenRegistry;
  constructor(file: string) {
    this.file = file;
    this.current = TokenRegistry.load(file);
  }

  get registry(): TokenRegistry {
    return this.current;
  }

  /** Re-read the file; returns the number of tokens now in force, or throws (old tokens kept). */
  reload(): number {
    this.current = TokenRegistry.load(this.file);
    return this.current.size;
  }
}
