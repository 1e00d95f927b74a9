import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Teardown } from '@tenancy/test-support';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import Provider from 'oidc-provider';

/** The gateway's registration at the test provider. */
export const CLIENT = { id: 'tenancy-gateway', secret: 'oidc-test-client-secret-0123456789' } as const;

/** Claims of one account at the provider, besides `sub` (its key in `accounts`). */
export type AccountClaims = { email?: string; email_verified?: boolean; groups?: string[] };

export interface SigningKey {
  jwk: JWK & { kid: string };
  privateKey: Parameters<SignJWT['sign']>[0];
}

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `key-${randomBytes(4).toString('hex')}`;
  return { jwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' }, privateKey };
}

/**
 * A real OpenID Connect provider (the `oidc-provider` package) on 127.0.0.1, port 0, with the
 * gateway registered as a confidential client. Its login page is a one-field form: the account
 * id, no password (the test is about the gateway, not the provider's login). Test hooks:
 * - `setAlterAnswer`: changes the redirect back to the gateway (its state, say);
 * - `setTamper`: rewrites the ID token of the next token responses (re-signed, by default with the
 *   provider's own key), to show the gateway refuses what the provider would never send;
 * - `rotate()`: the provider starts signing with a brand-new key and publishes only that one;
 * - `stats.jwksFetches`: how often its keys were fetched.
 */
export async function startOidcProvider(
  t: Teardown,
  options: { redirectUri: string; accounts: Record<string, AccountClaims>; idTokenTtlSeconds?: number },
) {
  const sockets = new Set<Socket>();
  const stats = { jwksFetches: 0, tokenRequests: 0 };
  let tamper: ((idToken: string) => Promise<string>) | undefined;
  let alterAnswer: ((callback: URL) => void) | undefined;
  let key = await newSigningKey();
  let provider: Provider;

  const server = createServer((req, res) => {
    if (req.url === '/jwks') stats.jwksFetches++;
    if (req.url === '/token') stats.tokenRequests++;
    const interaction = /^\/interaction\/([\w-]+)$/.exec(req.url ?? '');
    if (interaction) {
      interact(req, res, interaction[1] ?? '').catch((err: unknown) => {
        res.writeHead(500).end(String(err));
      });
      return;
    }
    provider.callback()(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const build = () => {
    const next = new Provider(issuer, {
      clients: [
        {
          client_id: CLIENT.id,
          client_secret: CLIENT.secret,
          redirect_uris: [options.redirectUri],
          response_types: ['code'],
          grant_types: ['authorization_code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      jwks: { keys: [key.jwk] },
      cookies: { keys: [randomBytes(32).toString('hex')] },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      pkce: { required: () => true },
      ttl: { IdToken: options.idTokenTtlSeconds ?? 300 },
      findAccount: (_ctx, id) => {
        const claims = options.accounts[id];
        if (!claims) return undefined;
        return { accountId: id, claims: () => ({ sub: id, ...claims }) };
      },
    });
    next.use(async (ctx, nextMiddleware) => {
      await nextMiddleware();
      const body = ctx.body as { id_token?: string } | undefined;
      if (ctx.path === '/token' && ctx.status === 200 && tamper && body?.id_token) {
        body.id_token = await tamper(body.id_token);
      }
      const location = ctx.response.get('location');
      if (alterAnswer && location.startsWith(options.redirectUri)) {
        const callback = new URL(location);
        alterAnswer(callback);
        ctx.redirect(callback.href);
      }
    });
    return next;
  };
  provider = build();

  async function interact(req: IncomingMessage, res: ServerResponse, uid: string) {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
        `<!doctype html><title>Test provider</title>
<form method="post" action="/interaction/${uid}"><input id="login" name="login"><button type="submit">Continue</button></form>`,
      );
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const accountId = new URLSearchParams(Buffer.concat(chunks).toString()).get('login') ?? '';
    const details = await provider.interactionDetails(req, res);
    const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    grant.addOIDCScope(String(details.params.scope));
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  /** The ID token with `change` applied to its claims, signed with `signer` (the provider's key by default). */
  const resign = async (
    idToken: string,
    change: (claims: JWTPayload) => JWTPayload,
    signer: SigningKey = key,
  ): Promise<string> => {
    const { alg } = decodeProtectedHeader(idToken);
    return new SignJWT(change(decodeJwt(idToken)))
      .setProtectedHeader({ alg: alg ?? 'RS256', kid: signer.jwk.kid })
      .sign(signer.privateKey);
  };

  return {
    issuer,
    stats,
    resign,
    newSigningKey,
    /** Rewrites the ID token of every token response from now on; undefined stops. */
    setTamper(fn: typeof tamper) {
      tamper = fn;
    },
    /** Alters the answer (the redirect back to the gateway) of every sign-in from now on; undefined stops. */
    setAlterAnswer(fn: typeof alterAnswer) {
      alterAnswer = fn;
    },
    /** A new signing key, the only one published; the provider's sessions and codes start afresh. */
    async rotate(): Promise<string> {
      key = await newSigningKey();
      provider = build();
      return key.jwk.kid;
    },
    get kid() {
      return key.jwk.kid;
    },
  };
}
