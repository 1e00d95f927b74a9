import type { JsonBody } from '@tenancy/test-support';
import type { Test } from 'tap';
import type { curlWithJar } from './curl.js';

type Curl = ReturnType<typeof curlWithJar>;
/** The parts of tap's Test these steps assert with. */
type Asserts = Pick<Test, 'equal' | 'match' | 'same'>;

/** The seed's flow, as the README shows it: login → warmup → `POST /chat {"message":"Hello!"}`. */
export async function loginWarmupHello(
  t: Asserts,
  curl: Curl,
  userId: string,
  /** Headers of the login: `authorization: Bearer LOGIN_TOKEN` in AUTH_MODE=token. */
  loginHeaders: Record<string, string> = {},
): Promise<void> {
  const login = await curl.call(
    'POST',
    '/auth/login',
    { user_id: userId, email: 'e2e@example.com', plan: 'free', onboarding_completed: true },
    loginHeaders,
  );
  t.equal(login.status, 200, login.body);
  t.match(login.json, { user_id: userId, email: 'e2e@example.com', plan: 'free' });

  const warmup = await curl.call('POST', '/warmup', { user_id: userId });
  t.equal(warmup.status, 200, warmup.body);
  t.match(warmup.json, { user_id: userId, state: 'running', ready: true });

  // The seed's request, answered by the user's own container.
  const hello = await curl.call('POST', '/chat', { message: 'Hello!' });
  t.equal(hello.status, 200, hello.body);
  t.match(hello.json, {
    user_id: userId,
    reply: 'Hello! Your private container is awake and listening. Type "help" to see what I can do.',
  });
}

/** After the container slept: the next message wakes it, and the history holds both messages. */
export async function chatAgainAndCheckHistory(t: Asserts, curl: Curl, userId: string): Promise<void> {
  const again = await curl.call('POST', '/chat', { message: 'Are you back?' });
  t.equal(again.status, 200, again.body);
  t.equal(again.json.user_id, userId);
  const history = await curl.call('GET', '/history');
  t.equal(history.status, 200, history.body);
  const items: JsonBody[] = history.json.items;
  t.same(
    items.filter((m) => m.role === 'user').map((m) => m.content),
    ['Are you back?', 'Hello!'],
    'both messages, newest first',
  );
  t.equal(items.length, 4, 'two messages and two replies');
}
