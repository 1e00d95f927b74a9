import { UserId } from '@tenancy/shared';
import { errors } from '../errors.js';
import type { LoginIdentity } from './login-identity.js';

/** Who may sign in through the provider, and which claim names them. */
export interface OidcPolicy {
  /** Claim that becomes the user id (`sub` by default). */
  userClaim: string;
  /** Lower-case email domains admitted; empty: any (and no email needed). */
  allowedDomains: readonly string[];
  /** Groups admitted (any one suffices); empty: any. */
  allowedGroups: readonly string[];
  /** Claim holding the groups: an array of strings or one string. */
  groupsClaim: string;
}

/** A comma-separated list from the configuration, trimmed, empties dropped. */
export function listOf(text: string | undefined, lowerCase = false): string[] {
  return (text ?? '')
    .split(',')
    .map((item) => (lowerCase ? item.trim().toLowerCase() : item.trim()))
    .filter((item) => item.length > 0);
}

// What the supervisor accepts as a user id (shared contract): checked here, so a claim it would
// refuse fails as a missing claim rather than as a 500 from the login.
const USER_ID_PATTERN = new RegExp(UserId.pattern ?? '');
const usableUserId = (value: unknown): value is string =>
  typeof value === 'string' &&
  value.length >= 1 &&
  value.length <= (UserId.maxLength ?? 200) &&
  USER_ID_PATTERN.test(value);

/**
 * The login identity of a validated set of claims, or the reason it may not sign in. The email
 * counts only when the provider vouches for it (`email_verified` true; the string "true" too, as
 * some providers send it): an unverified address is whatever the user typed at the provider,
 * so it is neither recorded nor matched against the domain list. A user id taken from `email`
 * needs a verified one for the same reason.
 */
export function identityFromClaims(claims: Readonly<Record<string, unknown>>, policy: OidcPolicy): LoginIdentity {
  const verified = claims.email_verified === true || claims.email_verified === 'true';
  const email = verified && typeof claims.email === 'string' && claims.email.includes('@') ? claims.email : null;

  const rawId = claims[policy.userClaim];
  if (!usableUserId(rawId))
    throw errors.oidcClaimMissing(`the identity provider sent no usable ${JSON.stringify(policy.userClaim)} claim`);
  if (policy.userClaim === 'email' && email === null) throw errors.oidcEmailUnverified();

  if (policy.allowedDomains.length > 0) {
    if (email === null) throw errors.oidcEmailUnverified();
    const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
    if (!policy.allowedDomains.includes(domain)) throw errors.oidcDomainNotAllowed();
  }

  if (policy.allowedGroups.length > 0) {
    const value = claims[policy.groupsClaim];
    const groups = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
    if (!groups.some((group) => typeof group === 'string' && policy.allowedGroups.includes(group)))
      throw errors.oidcGroupNotAllowed();
  }
  return { userId: rawId, email };
}
