/** The pure security pieces: globs, tokens, rate limits, the HTTP guard, certificate rights, config refusals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { globMatch } from '../../src/security/glob.js';
import { TokenRegistry, TokensFileError, grantAllows } from '../../src/security/tokens.js';
import { KeyedRateLimiter, TokenBucket } from '../../src/security/rate-limit.js';
import { HttpGuard, actionOf } from '../../src/security/http-guard.js';
import { CertificateRights, RightsFileError } from '../../src/security/cert-rights.js';
import { deniedByRights } from '../../src/security/gear-rights.js';
import { defaultSecurityConfig, securityConfigProblem } from '../../src/security/config.js';
import { PacketType as T } from '../../src/protocol/index.js';
import { defaultConfig, validateConfig, ConfigError } from '../../src/server/config.js';

test('globs: * and ? over function names, everything else literal', () => {
  assert.ok(globMatch('billing.*', 'billing.invoice'));
  assert.ok(globMatch('billing.*', 'billing.'));
  assert.ok(!globMatch('billing.*', 'billingX'));
  assert.ok(globMatch('*', ''));
  assert.ok(globMatch('resize_?', 'resize_1'));
  assert.ok(!globMatch('resize_?', 'resize_12'));
  assert.ok(globMatch('a*b*c', 'a--b--b--c'));
  assert.ok(!globMatch('a*b*c', 'a--b--b--'));
  assert.ok(globMatch('[x]', '[x]'));
  assert.ok(!globMatch('exact', 'exact2'));
});

test('globs agree with an equivalent regular expression', () => {
  const toRegex = (g: string) => new RegExp('^' + g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]') + '$');
  fc.assert(
    fc.property(fc.stringMatching(/^[ab*?.]{0,8}$/), fc.stringMatching(/^[ab.]{0,10}$/), (g, name) => {
      assert.equal(globMatch(g, name), toRegex(g).test(name));
    }),
    { numRuns: 3000 },
  );
});

const tokensJson = JSON.stringify({
  tokens: [
    { name: 'app', token: 'app-secret-0123456789', functions: ['billing.*'], rights: ['submit', 'status'] },
    { name: 'ops', sha256: createHash('sha256').update('ops-secret-0123456789').digest('hex'), functions: ['*'], rights: ['admin', 'cancel', 'background'], rate: { perSecond: 1, burst: 2 } },
  ],
});

test('tokens: plain and sha256 entries authenticate; others do not', () => {
  const reg = TokenRegistry.parse(tokensJson);
  const app = reg.authenticate('Bearer app-secret-0123456789');
  assert.equal(app.kind, 'ok');
  assert.equal(app.kind === 'ok' && app.grant.name, 'app');
  const ops = reg.authenticate('bearer   ops-secret-0123456789');
  assert.equal(ops.kind === 'ok' && ops.grant.name, 'ops');
  assert.equal(reg.authenticate(undefined).kind, 'missing');
  assert.equal(reg.authenticate('Basic dXNlcjpwYXNz').kind, 'malformed');
  assert.equal(reg.authenticate('Bearer app-secret-012345678').kind, 'invalid');
  assert.equal(reg.authenticate('Bearer app-secret-0123456789x').kind, 'invalid');
});

test('tokens: rights and function globs', () => {
  const reg = TokenRegistry.parse(tokensJson);
  const app = reg.authenticate('Bearer app-secret-0123456789');
  assert.ok(app.kind === 'ok');
  assert.ok(grantAllows(app.grant, 'submit', 'billing.invoice'));
  assert.ok(!grantAllows(app.grant, 'submit', 'reports.daily'));
  assert.ok(!grantAllows(app.grant, 'background', 'billing.invoice'));
  assert.ok(grantAllows(app.grant, 'status'));
  assert.ok(!grantAllows(app.grant, 'admin'));
});

test('tokens file: each mistake is refused with its place named', () => {
  const bad = (tokens: unknown, pattern: RegExp) =>
    assert.throws(() => TokenRegistry.parse(JSON.stringify({ tokens })), (err: unknown) => err instanceof TokensFileError && pattern.test(err.message));
  bad([{ name: 'a', token: 'short', functions: ['*'], rights: [] }], /at least 16/);
  bad([{ name: 'a', token: 'x'.repeat(20), functions: ['*'], rights: ['root'] }], /rights must be/);
  bad([{ name: 'a', token: 'x'.repeat(20), functions: '*', rights: [] }], /functions must be/);
  bad([{ name: 'a', sha256: 'abc', functions: ['*'], rights: [] }], /64 hex/);
  bad([{ name: 'a', token: 'x'.repeat(20), sha256: 'a'.repeat(64), functions: ['*'], rights: [] }], /exactly one/);
  bad([{ name: 'a', token: 'x'.repeat(20), functions: ['*'], rights: [] }, { name: 'a', token: 'y'.repeat(20), functions: ['*'], rights: [] }], /used twice/);
  bad([{ name: 'a', token: 'x'.repeat(20), functions: ['*'], rights: [] }, { name: 'b', token: 'x'.repeat(20), functions: ['*'], rights: [] }], /listed twice/);
  assert.throws(() => TokenRegistry.parse('{not json'), TokensFileError);
  assert.throws(() => TokenRegistry.parse('{"token": []}'), /expected \{"tokens"/);
});

test('token bucket: burst, refill at the rate, Retry-After from the deficit', () => {
  const b = new TokenBucket({ perSecond: 2, burst: 3 }, 0);
  for (let i = 0; i < 3; i++) assert.equal(b.take(0).allowed, true);
  const refused = b.take(0);
  assert.equal(refused.allowed, false);
  assert.equal(!refused.allowed && refused.retryAfterMs, 500);
  assert.equal(b.take(499).allowed, false);
  assert.equal(b.take(500 + 1).allowed, true);
  assert.equal(b.take(10_000).allowed, true); // refilled to the burst, not beyond
  assert.equal(b.take(10_000).allowed, true);
  assert.equal(b.take(10_000).allowed, true);
  assert.equal(b.take(10_000).allowed, false);
});

test('keyed limiter: keys are independent and the number of buckets is bounded', () => {
  let now = 0;
  const limiter = new KeyedRateLimiter({ perSecond: 1, burst: 1 }, () => now, 100);
  assert.equal(limiter.take('a').allowed, true);
  assert.equal(limiter.take('a').allowed, false);
  assert.equal(limiter.take('b').allowed, true);
  for (let i = 0; i < 1000; i++) limiter.take(`addr-${i}`);
  assert.ok(limiter.size <= 100);
  now += 60_000;
  limiter.take('z');
  assert.ok(limiter.size <= 2, `full buckets are forgotten (${limiter.size})`);
  assert.equal(new KeyedRateLimiter({ perSecond: 0, burst: 0 }).take('x').allowed, true);
});

test('guard: routes map to rights', () => {
  assert.deepEqual(actionOf('GET', '_gearport/health', false), { kind: 'health' });
  assert.deepEqual(actionOf('GET', '_gearport/workers', false), { kind: 'right', right: 'admin' });
  assert.deepEqual(actionOf('DELETE', '_gearport/jobs/H:x:1', false), { kind: 'right', right: 'cancel' });
  assert.deepEqual(actionOf('GET', '_gearport/jobs/H:x:1', false), { kind: 'right', right: 'status' });
  assert.deepEqual(actionOf('GET', 'reverse?abc', false), { kind: 'right', right: 'submit', functionName: 'reverse' });
  assert.deepEqual(actionOf('POST', 'reverse', true), { kind: 'right', right: 'background', functionName: 'reverse' });
  assert.deepEqual(actionOf('OPTIONS', 'reverse', false), { kind: 'preflight' });
});

test('guard: 401 without a token, 403 without the right, 429 over the rate, health always open', () => {
  let now = 0;
  const security = { ...defaultSecurityConfig(), httpCorsOrigins: ['https://app.example'], httpRatePerAddress: { perSecond: 100, burst: 100 } };
  const registry = TokenRegistry.parse(tokensJson);
  const guard = new HttpGuard(security, () => now, { registry, reload: () => registry.size } as never);
  const facts = { method: 'POST', path: 'billing.invoice', address: '10.0.0.1', authorization: undefined as string | undefined, origin: undefined as string | undefined, background: false };
  const no = guard.check(facts);
  assert.ok(!no.allowed && no.refusal.status === 401 && no.refusal.headers.includes('WWW-Authenticate'));
  const ok = guard.check({ ...facts, authorization: 'Bearer app-secret-0123456789', origin: 'https://app.example' });
  assert.ok(ok.allowed && ok.headers.includes('https://app.example'));
  const otherFn = guard.check({ ...facts, path: 'reports', authorization: 'Bearer app-secret-0123456789' });
  assert.ok(!otherFn.allowed && otherFn.refusal.status === 403);
  const bg = guard.check({ ...facts, background: true, authorization: 'Bearer app-secret-0123456789' });
  assert.ok(!bg.allowed && bg.refusal.status === 403);
  assert.ok(guard.check({ ...facts, method: 'GET', path: '_gearport/health' }).allowed);
  // ops: 1 per second, burst 2
  const ops = { ...facts, background: true, authorization: 'Bearer ops-secret-0123456789' };
  assert.ok(guard.check(ops).allowed);
  assert.ok(guard.check(ops).allowed);
  const limited = guard.check(ops);
  assert.ok(!limited.allowed && limited.refusal.status === 429);
  assert.ok(!limited.allowed && limited.refusal.headers.join(' ').includes('Retry-After 1'));
  now += 1000;
  assert.ok(guard.check(ops).allowed);
  // CORS: unknown origins get no CORS headers; a preflight from a known one is answered 204
  const foreign = guard.check({ ...facts, authorization: 'Bearer app-secret-0123456789', origin: 'https://evil.example' });
  assert.ok(foreign.allowed && !foreign.headers.includes('Access-Control-Allow-Origin'));
  const pre = guard.check({ ...facts, method: 'OPTIONS', origin: 'https://app.example' });
  assert.ok(!pre.allowed && pre.refusal.status === 204);
});

test('guard: the per-address limit applies before authentication (token guessing is limited)', () => {
  const security = { ...defaultSecurityConfig(), httpRatePerAddress: { perSecond: 1, burst: 3 } };
  const registry = TokenRegistry.parse(tokensJson);
  const guard = new HttpGuard(security, () => 0, { registry, reload: () => 0 } as never);
  const guess = { method: 'POST', path: 'f', address: '10.0.0.9', authorization: 'Bearer guess-guess-guess-guess', origin: undefined, background: false };
  const codes = Array.from({ length: 5 }, () => {
    const d = guard.check(guess);
    return d.allowed ? 200 : d.refusal.status;
  });
  assert.deepEqual(codes, [401, 401, 401, 429, 429]);
});

test('certificate rights: fingerprint first, then CN, then *', () => {
  const fp = 'AB'.repeat(32).replace(/(..)(?!$)/g, '$1:');
  const rights = CertificateRights.parse(
    JSON.stringify({
      clients: [
        { cn: 'worker-1', rights: ['register'] },
        { fingerprint256: fp.toLowerCase(), rights: ['admin', 'submit'] },
        { cn: '*', rights: ['submit'] },
      ],
    }),
  );
  assert.deepEqual(rights.rightsOf({ cn: 'worker-1', fingerprint256: '00'.repeat(32) }), { register: true, submit: false, admin: false });
  assert.deepEqual(rights.rightsOf({ cn: 'worker-1', fingerprint256: fp }), { register: false, submit: true, admin: true });
  assert.deepEqual(rights.rightsOf({ cn: 'someone', fingerprint256: '00'.repeat(32) }), { register: false, submit: true, admin: false });
  const strict = CertificateRights.parse('{"clients": [{"cn": "a", "rights": ["register"]}]}');
  assert.deepEqual(strict.rightsOf({ cn: 'b', fingerprint256: '00' }), { register: false, submit: false, admin: false });
  assert.throws(() => CertificateRights.parse('{"clients": [{"cn": "a", "rights": ["root"]}]}'), RightsFileError);
  assert.throws(() => CertificateRights.parse('{"clients": [{"rights": []}]}'), /needs "cn" or "fingerprint256"/);
});

test('packet rights: CAN_DO needs register, SUBMIT_* needs submit, the rest is open', () => {
  const none = { register: false, submit: false, admin: false };
  assert.equal(deniedByRights(T.CAN_DO, none)?.code, 'PERMISSION_DENIED');
  assert.equal(deniedByRights(T.CAN_DO_TIMEOUT, none)?.code, 'PERMISSION_DENIED');
  for (const t of [T.SUBMIT_JOB, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH_BG, T.SUBMIT_JOB_EPOCH, T.SUBMIT_REDUCE_JOB]) assert.ok(deniedByRights(t, none));
  assert.equal(deniedByRights(T.ECHO_REQ, none), undefined);
  assert.equal(deniedByRights(T.GET_STATUS, none), undefined);
  assert.equal(deniedByRights(T.CAN_DO, { ...none, register: true }), undefined);
});

test('config: HTTP beyond loopback without tokens is refused unless explicitly allowed', () => {
  const c = defaultConfig();
  c.httpPort = 8080;
  c.listen = [];
  assert.throws(() => validateConfig(c), (err: unknown) => err instanceof ConfigError && /--http-allow-anonymous/.test(err.message));
  c.listen = ['127.0.0.1', '::1'];
  assert.doesNotThrow(() => validateConfig(c));
  c.listen = ['0.0.0.0'];
  assert.throws(() => validateConfig(c), ConfigError);
  c.security.httpAllowAnonymous = true;
  assert.doesNotThrow(() => validateConfig(c));
  c.security.httpAllowAnonymous = false;
  c.security.httpTokensFile = '/etc/gearport/tokens.json';
  assert.doesNotThrow(() => validateConfig(c));
  const s = defaultSecurityConfig();
  assert.match(securityConfigProblem({ ...s, httpTlsCertFile: 'a.pem' }, [], undefined)!, /both --http-tls-cert and --http-tls-key/);
  assert.match(securityConfigProblem({ ...s, httpCorsOrigins: ['https://a.example/path'] }, [], undefined)!, /origin/);
  assert.match(securityConfigProblem({ ...s, gearTls: { ...s.gearTls, verifyClient: true } }, [], undefined)!, /need --ssl/);
});
