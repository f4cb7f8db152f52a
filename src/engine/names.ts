import { randomBytes, randomInt } from 'node:crypto';
import { isAbandoned, scratchName } from '../store/scratch.js';

// A small version of Docker's namesgenerator: adjective_surname of a notable scientist.
const ADJECTIVES = [
  'admiring', 'adoring', 'agitated', 'amazing', 'angry', 'awesome', 'blissful', 'bold', 'brave',
  'busy', 'charming', 'clever', 'compassionate', 'competent', 'confident', 'cool', 'dazzling',
  'determined', 'eager', 'ecstatic', 'elegant', 'epic', 'exciting', 'fervent', 'festive', 'focused',
  'friendly', 'funny', 'gallant', 'gifted', 'goofy', 'gracious', 'happy', 'hopeful', 'hungry',
  'inspiring', 'intelligent', 'interesting', 'jolly', 'keen', 'kind', 'laughing', 'loving', 'lucid',
  'magical', 'modest', 'musing', 'naughty', 'nice', 'nifty', 'nostalgic', 'objective', 'optimistic',
  'peaceful', 'pensive', 'practical', 'priceless', 'quirky', 'quizzical', 'relaxed', 'reverent',
  'romantic', 'serene', 'sharp', 'silly', 'sleepy', 'stoic', 'strange', 'sweet', 'tender',
  'thirsty', 'trusting', 'upbeat', 'vibrant', 'vigilant', 'wizardly', 'wonderful', 'youthful', 'zealous',
];
const SURNAMES = [
  'agnesi', 'albattani', 'archimedes', 'babbage', 'banach', 'bardeen', 'bell', 'bhabha', 'bohr',
  'booth', 'borg', 'bose', 'brahmagupta', 'cannon', 'carson', 'cerf', 'chandrasekhar', 'curie',
  'darwin', 'dijkstra', 'einstein', 'euclid', 'euler', 'fermat', 'fermi', 'feynman', 'franklin',
  'galileo', 'gauss', 'goldberg', 'goodall', 'hamilton', 'hawking', 'heisenberg', 'hopper',
  'hypatia', 'johnson', 'kalam', 'kepler', 'knuth', 'kowalevski', 'lalande', 'lamarr', 'leakey',
  'lovelace', 'lumiere', 'mayer', 'mccarthy', 'mclean', 'meitner', 'mendel', 'mirzakhani', 'morse',
  'napier', 'newton', 'nobel', 'noether', 'pare', 'pascal', 'pasteur', 'perlman', 'pike', 'poincare',
  'ptolemy', 'raman', 'ramanujan', 'ride', 'ritchie', 'rosalind', 'sammet', 'shannon', 'shockley',
  'sinoussi', 'stallman', 'swartz', 'tesla', 'thompson', 'torvalds', 'turing', 'varahamihira',
  'visvesvaraya', 'wescoff', 'wiles', 'williams', 'wilson', 'wozniak', 'wright', 'yalow', 'yonath',
];

/** adjective_surname; with `numbered`, a digit is added (Docker does so after collisions). */
export function generateName(numbered = false): string {
  const name = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}`;
  return numbered ? `${name}${randomInt(10)}` : name;
}

/** A container ID: 64 hex characters, as Docker's. */
export function generateId(): string {
  return randomBytes(32).toString('hex');
}

/** Docker's rule for container names. */
export const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * A build step's container is named `buildkit-<pid>.<start time>-<random>` after the build that
 * owns it (a scratch name): while that build runs, `ps` does not list it and prune leaves it
 * alone; once the build is gone (killed), it is an ordinary leftover that prune removes.
 */
const BUILD_CONTAINER_PREFIX = 'buildkit-';

export function buildContainerName(): string {
  return scratchName(BUILD_CONTAINER_PREFIX);
}

/** Whether a container is a step of a build that still runs. */
export function isBuildInProgress(name: string): boolean {
  return name.startsWith(BUILD_CONTAINER_PREFIX) && !isAbandoned(name, BUILD_CONTAINER_PREFIX);
}
