import { parseChallenges, type Challenge } from './challenge.js';
import type { Credentials } from './credentials.js';
import { displayUrl, registryMessage, RegistryError } from './errors.js';

/**
 * Answers a registry's challenges: Basic sends the credentials with every request; Bearer trades
 * them (or nothing, for anonymous access) at the token server for a token per set of scopes
 * (`repository:library/busybox:pull`), kept until shortly before it expires.
 */

/** A token server's answer, as the client's transport fetched it. */
export interface TokenAnswer {
  readonly status: number;
  readonly statusText: string;
  readonly body: Buffer;
}

export type FetchToken = (url: URL, headers: Record<string, string>) => Promise<TokenAnswer>;

/** The lifetime a token has when its server does not say (the distribution spec's). */
const DEFAULT_TOKEN_SECONDS = 60;
/** A token this close to its expiry is not sent: it could expire on the way. */
const EXPIRY_MARGIN_MS = 10_000;

interface CachedToken {
  readonly token: string;
  readonly expires: number;
}

export class Authenticator {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();

  constructor(
    private readonly credentials: () => Credentials | undefined,
    private readonly fetchToken: FetchToken,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Takes the challenges of a 401 (Bearer preferred, as Docker does) and forgets the token that
   * was refused. False when there is none this client can answer.
   */
  challenged(header: string | string[] | undefined, scopes: readonly string[]): boolean {
    const challenges = parseChallenges(header);
    const chosen = challenges.find((c) => c.scheme === 'bearer' && c.params.realm) ?? challenges.find((c) => c.scheme === 'basic');
    if (chosen === undefined) return false;
    this.challenge = chosen;
    this.tokens.delete(this.cacheKey(chosen, scopes));
    return true;
  }

  /** The Authorization header for a request that needs `scopes`; none before a challenge. */
  async authorization(scopes: readonly string[]): Promise<string | undefined> {
    const challenge = this.challenge;
    if (challenge === undefined) return undefined;
    const credentials = this.credentials();
    if (challenge.scheme === 'basic') return credentials && basic(credentials);
    return `Bearer ${await this.token(challenge, scopes, credentials)}`;
  }

  private cacheKey(challenge: Challenge, scopes: readonly string[]): string {
    return [challenge.params.realm, challenge.params.service, ...[...scopes].sort()].join(' ');
  }

  private async token(challenge: Challenge, scopes: readonly string[], credentials: Credentials | undefined): Promise<string> {
    const key = this.cacheKey(challenge, scopes);
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.expires > this.now()) return cached.token;
    const url = new URL(challenge.params.realm!);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    if (credentials !== undefined) url.searchParams.set('account', credentials.username);
    const answer = await this.fetchToken(url, credentials === undefined ? {} : { authorization: basic(credentials) });
    if (answer.status === 401) {
      throw new RegistryError(`unauthorized: ${registryMessage(answer.body) ?? 'incorrect username or password'}`, '401');
    }
    if (answer.status !== 200) {
      throw new RegistryError(
        `token auth attempt for registry: ${displayUrl(url)} request failed with status: ${answer.status} ${answer.statusText}`,
        String(answer.status),
      );
    }
    const { token, expiresIn } = parseToken(answer.body, url);
    const issued = this.now();
    this.tokens.set(key, { token, expires: issued + (expiresIn ?? DEFAULT_TOKEN_SECONDS) * 1000 - EXPIRY_MARGIN_MS });
    return token;
  }
}

function basic({ username, password }: Credentials): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** `token`, or OAuth's `access_token`, and `expires_in` (seconds) when given. */
function parseToken(body: Buffer, url: URL): { token: string; expiresIn?: number } {
  let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown } | undefined;
  try {
    parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  const token = typeof parsed?.token === 'string' && parsed.token !== '' ? parsed.token : parsed?.access_token;
  if (typeof token !== 'string' || token === '') throw new RegistryError(`token auth attempt for registry: ${displayUrl(url)} answered without a token`);
  const expiresIn = parsed?.expires_in;
  return typeof expiresIn === 'number' && expiresIn > 0 ? { token, expiresIn } : { token };
}
