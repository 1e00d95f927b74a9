import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import t from 'tap';
import { userHash } from '../../src/revocation/keys.js';
import type { Revocations } from '../../src/revocation/revocations.js';
import { type SessionEndReason, SessionStreams } from '../../src/session/session-streams.js';
import type { Session } from '../../src/session/tokens.js';

const NOW = 1_000_000;
const HOUR = 3_600_000;

function session(overrides: Partial<Session> = {}): Session {
  return {
    userId: 'alice',
    sid: 'sid-1',
    jti: 'jti-1',
    email: null,
    plan: 'free',
    authTime: NOW - 1_000,
    expiresAt: NOW + HOUR,
    issuedAt: NOW - 1_000,
    ...overrides,
  };
}

t.test('which revocations end a bound connection, and which do not', async (t) => {
  const rows: [why: string, bound: Session, message: unknown, ended: SessionEndReason | undefined][] = [
    ['its own session revoked', session(), { kind: 'session', sid: 'sid-1' }, 'revoked'],
    ['another session revoked', session(), { kind: 'session', sid: 'sid-2' }, undefined],
    ['every session of its user', session(), { kind: 'user', user: userHash('alice'), before: NOW }, 'revoked'],
    ['another user', session(), { kind: 'user', user: userHash('bob'), before: NOW }, undefined],
    ['its API key revoked', session({ sid: 'key:K1', keyId: 'K1' }), { kind: 'key', keyId: 'K1' }, 'revoked'],
    ['another API key revoked', session({ sid: 'key:K1', keyId: 'K1' }), { kind: 'key', keyId: 'K2' }, undefined],
    ['an API key revoked, a cookie session bound', session(), { kind: 'key', keyId: 'K1' }, undefined],
    [
      'a session begun after the revocation',
      session({ authTime: NOW + 1 }),
      { kind: 'user', user: userHash('alice'), before: NOW },
      undefined,
    ],
  ];
  for (const [why, bound, message, ended] of rows) {
    const feed = new EventEmitter();
    const streams = new SessionStreams(feed as unknown as Revocations, pino({ level: 'silent' }), () => NOW);
    const reasons: SessionEndReason[] = [];
    streams.bind(bound, (reason) => reasons.push(reason));
    feed.emit('revoked', message);
    feed.emit('revoked', message);
    t.strictSame(reasons, ended ? [ended] : [], `${why}: ended once at most`);
    t.equal(streams.size, ended ? 0 : 1, why);
    streams.close();
  }
});

t.test('an expired session ends at once; a released connection is forgotten; close ends the rest', async (t) => {
  const feed = new EventEmitter();
  const streams = new SessionStreams(feed as unknown as Revocations, pino({ level: 'silent' }), () => NOW);
  const reasons: string[] = [];
  streams.bind(session({ sid: 'expired', expiresAt: NOW }), (reason) => reasons.push(`expired:${reason}`));
  const release = streams.bind(session({ sid: 'released' }), (reason) => reasons.push(`released:${reason}`));
  streams.bind(session({ sid: 'open' }), (reason) => reasons.push(`open:${reason}`));
  t.strictSame(reasons, ['expired:expired']);
  release();
  feed.emit('revoked', { kind: 'session', sid: 'released' });
  t.equal(streams.size, 1);
  streams.close();
  t.strictSame(reasons, ['expired:expired', 'open:closing']);
  t.equal(feed.listenerCount('revoked'), 0, 'no longer follows revocations');
});

t.test('the timer ends the connection when the session ends', async (t) => {
  const feed = new EventEmitter();
  let clock = NOW;
  const streams = new SessionStreams(feed as unknown as Revocations, pino({ level: 'silent' }), () => clock);
  // The timer is unref'd (the connection keeps a process alive, not its timer); here nothing would.
  const keepAlive = setInterval(() => undefined, 1_000);
  t.teardown(() => clearInterval(keepAlive));
  const ended = new Promise<SessionEndReason>((resolve) => streams.bind(session({ expiresAt: NOW + 20 }), resolve));
  clock = NOW + 20;
  t.equal(await ended, 'expired');
  t.equal(streams.size, 0);
});
