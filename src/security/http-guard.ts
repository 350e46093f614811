/**
 * The HTTP front's gate, without I/O: which right a request needs, whether its bearer token
 * grants it, the rate limits per address and per token, and CORS. The front asks `check`
 * first and sends the refusal as is; allowed requests get `headers` added (CORS).
 */
import { apiRest } from '../server/http/context.js';
import { jsonErrorBody } from '../server/http/errors.js';
import type { SecurityConfig } from './config.js';
import { KeyedRateLimiter, type Clock } from './rate-limit.js';
import { grantAllows, TokenFile, type HttpRight, type TokenGrant } from './tokens.js';

/** What a request asks for, derived from its method and path. */
export type HttpAction =
  | { readonly kind: 'health' }
  | { readonly kind: 'preflight' }
  /** Needs a valid token but no particular right (API description, HEAD probes, unknown routes). */
  | { readonly kind: 'any' }
  | { readonly kind: 'right'; readonly right: HttpRight; readonly functionName?: string };

export interface HttpRequestFacts {
  readonly method: string;
  /** The path without its leading slashes, query included (as the front routes it). */
  readonly path: string;
  readonly address: string;
  readonly authorization: string | undefined;
  readonly origin: string | undefined;
  /** The request asks for a background job (X-Gearman-Background). */
  readonly background: boolean;
}

export interface Refusal {
  readonly status: 401 | 403 | 429 | 204;
  readonly code: string;
  readonly message: string;
  /** Flat header list: name, value, name, value... */
  readonly headers: readonly string[];
}

export type GuardDecision =
  | { readonly allowed: true; readonly grant: TokenGrant | undefined; readonly headers: readonly string[] }
  | { readonly allowed: false; readonly refusal: Refusal };

/** Map a request to the right it needs (routes of src/server/http/api.ts and compat.ts). */
export function actionOf(method: string, path: string, background: boolean): HttpAction {
  if (method === 'OPTIONS') return { kind: 'preflight' };
  const rest = apiRest(path);
  if (rest !== undefined) {
    const q = rest.indexOf('?');
    const route = q === -1 ? rest : rest.slice(0, q);
    if (route === '/health') return { kind: 'health' };
    if (route === '/functions' || route === '/workers' || route === '/metrics') return { kind: 'right', right: 'admin' };
    if (route.startsWith('/jobs/')) return { kind: 'right', right: method === 'DELETE' ? 'cancel' : 'status' };
    if (route.startsWith('/uniques/')) return { kind: 'right', right: 'status' };
    return { kind: 'any' };
  }
  if (method === 'GET' || method === 'POST' || method === 'PUT') {
    // GET /f?x runs f with workload x; POST and PUT keep the query in the name (compat.ts).
    const q = method === 'GET' ? path.indexOf('?') : -1;
    const functionName = q === -1 ? path : path.slice(0, q);
    if (functionName === '') return { kind: 'any' };
    return { kind: 'right', right: background ? 'background' : 'submit', functionName };
  }
  return { kind: 'any' };
}

const CORS_ALLOW_HEADERS =
  'Authorization, Content-Type, X-Gearman-Unique, X-Gearman-Background, X-Gearman-Priority, X-Gearman-Timeout';
const CORS_EXPOSE_HEADERS = 'X-Gearman-Job-Handle, X-Gearman-Command, Retry-After';
const CORS_METHODS = 'GET, HEAD, POST, PUT, DELETE';

const bearerChallenge = (error?: string) => ['WWW-Authenticate', error === undefined ? 'Bearer realm="gearport"' : `Bearer realm="gearport", error="${error}"`];

export class HttpGuard {
  private readonly tokens: TokenFile | undefined;
  private readonly corsOrigins: ReadonlySet<string>;
  private readonly perAddress: KeyedRateLimiter;
  private readonly perToken: KeyedRateLimiter;

  constructor(security: SecurityConfig, clock: Clock = Date.now, tokens?: TokenFile) {
    this.tokens = tokens ?? (security.httpTokensFile !== undefined ? new TokenFile(security.httpTokensFile) : undefined);
    this.corsOrigins = new Set(security.httpCorsOrigins);
    this.perAddress = new KeyedRateLimiter(security.httpRatePerAddress, clock);
    this.perToken = new KeyedRateLimiter(security.httpRatePerToken, clock);
  }

  /** Re-read the tokens file (SIGHUP). Throws when it is unreadable; the old tokens stay. */
  reloadTokens(): number | undefined {
    return this.tokens?.reload();
  }

  get authenticates(): boolean {
    return this.tokens !== undefined;
  }

  /** CORS headers for a response to `origin`, empty when that origin is not configured. */
  corsHeaders(origin: string | undefined): string[] {
    if (origin === undefined || this.corsOrigins.size === 0) return [];
    if (!this.corsOrigins.has(origin) && !this.corsOrigins.has('*')) return [];
    return ['Access-Control-Allow-Origin', origin, 'Vary', 'Origin', 'Access-Control-Expose-Headers', CORS_EXPOSE_HEADERS];
  }

  check(facts: HttpRequestFacts): GuardDecision {
    const action = actionOf(facts.method, facts.path, facts.background);
    const cors = this.corsHeaders(facts.origin);
    if (action.kind === 'health') return { allowed: true, grant: undefined, headers: cors };
    if (action.kind === 'preflight' && cors.length > 0) {
      // Browsers send preflights without credentials; they carry no job, so no token is asked.
      return refuse(204, 'PREFLIGHT', '', [...cors, 'Access-Control-Allow-Methods', CORS_METHODS, 'Access-Control-Allow-Headers', CORS_ALLOW_HEADERS, 'Access-Control-Max-Age', '600', 'Content-Length', '0']);
    }
    // The address limit comes before authentication, so guessing tokens is rate limited too.
    const byAddress = this.perAddress.take(facts.address);
    if (!byAddress.allowed) return tooMany(byAddress.retryAfterMs, 'RATE_LIMITED', 'Too many requests from this address', cors);
    if (this.tokens === undefined) return { allowed: true, grant: undefined, headers: cors };

    const auth = this.tokens.registry.authenticate(facts.authorization);
    switch (auth.kind) {
      case 'missing':
        return refuse(401, 'UNAUTHORIZED', 'A bearer token is required (Authorization: Bearer <token>)', [...cors, ...bearerChallenge()]);
      case 'malformed':
        return refuse(401, 'UNAUTHORIZED', 'The Authorization header must be: Bearer <token>', [...cors, ...bearerChallenge('invalid_request')]);
      case 'invalid':
        return refuse(401, 'INVALID_TOKEN', 'The bearer token is not valid', [...cors, ...bearerChallenge('invalid_token')]);
    }
    const grant = auth.grant;
    const byToken = this.perToken.take(grant.name, grant.rate);
    if (!byToken.allowed) return tooMany(byToken.retryAfterMs, 'RATE_LIMITED', 'Too many requests with this token', cors);
    if (action.kind === 'right' && !grantAllows(grant, action.right, action.functionName)) {
      const what = action.functionName !== undefined ? `the '${action.right}' right on this function` : `the '${action.right}' right`;
      return refuse(403, 'TOKEN_FORBIDDEN', `This token lacks ${what}`, [...cors, ...bearerChallenge('insufficient_scope')]);
    }
    return { allowed: true, grant, headers: cors };
  }
}

function refuse(status: Refusal['status'], code: string, message: string, headers: readonly string[]): GuardDecision {
  return { allowed: false, refusal: { status, code, message, headers } };
}

function tooMany(retryAfterMs: number, code: string, message: string, cors: readonly string[]): GuardDecision {
  return refuse(429, code, message, [...cors, 'Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000)))]);
}

/** The JSON body of a refusal, in the front's error shape ({"error":{"code","message"}}). */
export function refusalBody(refusal: Refusal): Buffer {
  if (refusal.status === 204) return Buffer.alloc(0);
  return jsonErrorBody(refusal.code, refusal.message);
}
