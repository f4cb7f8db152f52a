/**
 * WWW-Authenticate (RFC 7235). One header may hold several challenges, Node joins repeated
 * headers with commas, and quoted values hold commas too:
 * `Bearer realm="https://auth/token",service="reg",scope="repository:a:pull,push", Basic realm="r"`.
 */
export interface Challenge {
  /** Lower case: `basic`, `bearer`. */
  readonly scheme: string;
  /** Parameter names in lower case, values unquoted. */
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;

export function parseChallenges(header: string | readonly string[] | undefined): Challenge[] {
  const text = typeof header === 'string' ? header : (header ?? []).join(', ');
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const skip = (chars: RegExp): void => {
    while (i < text.length && chars.test(text[i]!)) i++;
  };
  const token = (): string => {
    TOKEN.lastIndex = i;
    const match = TOKEN.exec(text);
    i += match?.[0].length ?? 0;
    return match?.[0] ?? '';
  };
  const quoted = (): string => {
    let value = '';
    for (i++; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\') i++;
      value += text[i] ?? '';
    }
    i++;
    return value;
  };
  while (i < text.length) {
    skip(/[\s,]/);
    const name = token();
    if (name === '') {
      i++; // a stray character: pass over it rather than lose the whole header
      continue;
    }
    skip(/\s/);
    const current = challenges.at(-1);
    if (text[i] === '=' && current !== undefined) {
      i++;
      skip(/\s/);
      current.params[name.toLowerCase()] = text[i] === '"' ? quoted() : token();
    } else {
      // A name not followed by `=` starts the next challenge.
      challenges.push({ scheme: name.toLowerCase(), params: {} });
    }
  }
  return challenges;
}
