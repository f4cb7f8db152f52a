import { WhaleboxError } from '../util/errors.js';

/**
 * Docker image references (`busybox`, `localhost:5000/ns/app:1.0`, `app@sha256:…`), parsed and
 * normalized as github.com/distribution/reference does, so that the same text names the same
 * image here and in Docker.
 */
export interface ImageReference {
  /** Registry host with optional port; `docker.io` when none was given. */
  readonly domain: string;
  /** Repository path inside the registry; `library/…` for Docker Hub's official images. */
  readonly path: string;
  readonly tag?: string;
  /** `algorithm:hex`, e.g. `sha256:…` (a manifest digest). */
  readonly digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;

// The grammar of distribution/reference's regexp.go. The separator is `-+` rather than the
// older `-*`: both accept the same names, but `-*` backtracks exponentially on long invalid ones.
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const NAME_RE = new RegExp(`^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

/** Hex lengths of the digest algorithms the OCI image spec registers. */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

/**
 * Parses what a user typed as Docker's `ParseDockerRef` does: normalizes the domain and the
 * `library/` prefix, and adds the `latest` tag when the reference has neither tag nor digest
 * (a reference with both keeps only the digest, which is what identifies the content).
 * Throws a WhaleboxError (status 125) with Docker's message when the text is not a reference.
 */
export function parseReference(text: string): ImageReference {
  const ref = parseNormalized(text);
  if (ref.digest !== undefined) return { domain: ref.domain, path: ref.path, digest: ref.digest };
  return ref.tag === undefined ? { ...ref, tag: DEFAULT_TAG } : ref;
}

/**
 * Docker's `ParseNormalizedNamed`: normalizes like parseReference but adds no tag, for where
 * a bare name means every tag (`docker images busybox`).
 */
export function parseNormalized(text: string): ImageReference {
  if (IDENTIFIER_RE.test(text)) {
    throw new WhaleboxError(`invalid repository name (${text}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDomain(text);
  const tagSeparator = remainder.indexOf(':');
  const remote = tagSeparator === -1 ? remainder : remainder.slice(0, tagSeparator);
  if (remote.toLowerCase() !== remote) {
    throw new WhaleboxError(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  return parse(`${domain}/${remainder}`);
}

/** Docker's `splitDockerDomain`: the first component is a registry only if it looks like a host. */
function splitDomain(text: string): [string, string] {
  const slash = text.indexOf('/');
  const first = slash === -1 ? '' : text.slice(0, slash);
  let domain: string;
  let remainder: string;
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = text;
  } else {
    domain = first;
    remainder = text.slice(slash + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return [domain, remainder];
}

/** Docker's `reference.Parse` on an already domain-qualified string. */
function parse(text: string): ImageReference {
  const match = REFERENCE_RE.exec(text);
  // Upper case in the repository was reported by the caller; what remains is plain malformed.
  if (!match) throw new WhaleboxError('invalid reference format');
  const [, name, tag, digest] = match;
  if (name!.length > NAME_TOTAL_LENGTH_MAX) {
    throw new WhaleboxError(
      `invalid reference format: repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
    );
  }
  const nameMatch = NAME_RE.exec(name!)!;
  // The first component was taken as a registry (it has a `.` or `:`) but is not a host name, as
  // in `a_b.c/app`. Docker keeps such a reference with an empty registry that no pull can reach.
  if (nameMatch[1] === undefined) throw new WhaleboxError('invalid reference format');
  const ref: { domain: string; path: string; tag?: string; digest?: string } = {
    domain: nameMatch[1],
    path: nameMatch[2]!,
  };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = validateDigest(digest);
  return ref;
}

/** The checks of go-digest's `Digest.Validate`, with its messages. */
function validateDigest(digest: string): string {
  const [algorithm, hex] = digest.split(':') as [string, string];
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (length === undefined) throw new WhaleboxError(`unsupported digest algorithm: ${digest}`);
  if (hex.length !== length) throw new WhaleboxError(`invalid checksum digest length: ${digest}`);
  if (!/^[a-f0-9]+$/.test(hex)) throw new WhaleboxError(`invalid checksum digest format: ${digest}`);
  return digest;
}

/** `docker.io/library/busybox`: the repository, fully qualified. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** `docker.io/library/busybox:latest`: the form stored in the tags table. */
export function referenceString(ref: ImageReference): string {
  return repositoryName(ref) + suffix(ref);
}

/** `busybox`, `localhost:5000/x`, `user/app`: the repository as Docker displays it. */
export function familiarName(ref: ImageReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return ref.path;
}

/** `busybox:latest`, `localhost:5000/x@sha256:…`: the whole reference as Docker displays it. */
export function familiarString(ref: ImageReference): string {
  return familiarName(ref) + suffix(ref);
}

function suffix(ref: ImageReference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}
