import { writeFileSync } from 'node:fs';
import { WhaleboxError } from '../util/errors.js';
import { runProcess } from '../util/run-process.js';
import type { PortMapping } from './ports.js';

/**
 * The iptables rules of whalebox networks and published ports. They live in whalebox's own
 * chains, hooked once from the built-in ones; every rule carries the comment `whalebox:<owner>`
 * (a network or container ID) and the hooks `whalebox`, so that removal, and prune after a
 * crash, find exactly ours. Each change is one `iptables-save` and one `iptables-restore
 * --noflush` (a transaction with the nf_tables backend): never a process per rule.
 *
 * Chains are created with `-N`, not `:CHAIN` lines: with --noflush a `:CHAIN` line flushes an
 * existing chain, which would drop other networks' rules. A concurrent change makes `-N` (or a
 * `-D` of a rule already gone) fail the whole transaction; we then read again and retry.
 */

export interface NetworkRules {
  readonly id: string;
  readonly bridge: string;
  readonly subnet: string;
  readonly internal: boolean;
}

type Table = 'filter' | 'nat';

/** A rule for one table: the `-A`/`-I`/`-D`/`-N`/`-X` line without the table. */
interface Line {
  readonly table: Table;
  readonly text: string;
}

const FORWARD = 'WHALEBOX-FORWARD';
/** Docker's DOCKER-ISOLATION chains in one: `-o bridge -j DROP` for every network. */
const ISOLATION = 'WHALEBOX-ISOLATION';
const PREROUTING = 'WHALEBOX-PREROUTING';
const OUTPUT = 'WHALEBOX-OUTPUT';
const POSTROUTING = 'WHALEBOX-POSTROUTING';

/** Our chains, each with the hook that sends traffic to it (none for the isolation chain). */
const CHAINS: readonly { table: Table; chain: string; hook?: string }[] = [
  { table: 'filter', chain: FORWARD, hook: `-I FORWARD 1 -m comment --comment whalebox -j ${FORWARD}` },
  { table: 'filter', chain: ISOLATION },
  { table: 'nat', chain: PREROUTING, hook: `-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment whalebox -j ${PREROUTING}` },
  { table: 'nat', chain: OUTPUT, hook: `-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment whalebox -j ${OUTPUT}` },
  { table: 'nat', chain: POSTROUTING, hook: `-A POSTROUTING -m comment --comment whalebox -j ${POSTROUTING}` },
];

const comment = (owner: string): string => `-m comment --comment whalebox:${owner}`;

/** The rules of one network, in the order they must stand (isolation before the accepts). */
export function networkRuleLines(network: NetworkRules): Line[] {
  const { bridge, subnet } = network;
  const tag = comment(network.id);
  const filter = (text: string): Line => ({ table: 'filter', text });
  const isolation = filter(`-A ${ISOLATION} -o ${bridge} ${tag} -j DROP`);
  if (network.internal) {
    return [
      isolation,
      filter(`-A ${FORWARD} -i ${bridge} ! -o ${bridge} ${tag} -j DROP`),
      filter(`-A ${FORWARD} ! -i ${bridge} -o ${bridge} ${tag} -j DROP`),
      filter(`-A ${FORWARD} -i ${bridge} -o ${bridge} ${tag} -j ACCEPT`),
    ];
  }
  return [
    isolation,
    filter(`-A ${FORWARD} -i ${bridge} ! -o ${bridge} ${tag} -j ${ISOLATION}`),
    filter(`-A ${FORWARD} -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED ${tag} -j ACCEPT`),
    filter(`-A ${FORWARD} -i ${bridge} ${tag} -j ACCEPT`),
    // Nothing else comes in from other interfaces (with ip_forward on, the LAN could reach
    // every container port): published ports are accepted above this, by rules put first.
    filter(`-A ${FORWARD} ! -i ${bridge} -o ${bridge} ${tag} -j DROP`),
    { table: 'nat', text: `-A ${POSTROUTING} -s ${subnet} ! -o ${bridge} ${tag} -j MASQUERADE` },
  ];
}

/** Whether a mapping is reachable on 127.0.0.1 (all addresses, or a loopback one). */
const onLoopback = (mapping: PortMapping): boolean => mapping.hostIp === '' || mapping.hostIp.startsWith('127.');

/**
 * The rules of one container's published ports. There is no userland proxy, so DNAT also
 * applies to traffic from the bridge (hairpin: a container reaching a published port on the
 * host's address), as Docker does with `--userland-proxy=false`; the MASQUERADE of the
 * container's own traffic to itself makes the replies come back through the host.
 */
export function portRuleLines(containerId: string, network: NetworkRules, containerIp: string, mappings: readonly PortMapping[]): Line[] {
  const tag = comment(containerId);
  const { bridge } = network;
  const lines = mappings.flatMap((m): Line[] => {
    const destination = m.hostIp ? `-d ${m.hostIp}/32 ` : '';
    const dport = (port: number): string => `-p ${m.protocol} -m ${m.protocol} --dport ${port}`;
    const dnat = `${destination}${dport(m.hostPort)} ${tag} -j DNAT --to-destination ${containerIp}:${m.containerPort}`;
    return [
      { table: 'nat', text: `-A ${PREROUTING} ${dnat}` },
      { table: 'nat', text: `-A ${OUTPUT} ${dnat}` },
      // Inserted first: ahead of the network's DROP of what comes in from elsewhere.
      { table: 'filter', text: `-I ${FORWARD} 1 -d ${containerIp}/32 ! -i ${bridge} -o ${bridge} ${dport(m.containerPort)} ${tag} -j ACCEPT` },
      { table: 'nat', text: `-A ${POSTROUTING} -s ${containerIp}/32 -d ${containerIp}/32 ${dport(m.containerPort)} ${tag} -j MASQUERADE` },
    ];
  });
  // 127.0.0.1:PORT from the host: routed to the bridge (route_localnet), with a source the container can answer.
  if (mappings.some(onLoopback)) lines.push({ table: 'nat', text: `-A ${POSTROUTING} -s 127.0.0.0/8 -o ${bridge} ${tag} -j MASQUERADE` });
  return lines;
}

/** The whalebox chains (`table/chain`) and rules, as `iptables-save` prints them. */
interface Snapshot {
  /** `-A` lines of our chains (with an owner) and our hooks. */
  readonly rules: Line[];
  readonly chains: Set<string>;
}

/** A hook as iptables-save prints it: only these are ours in the built-in chains. */
const HOOK = /^-A (FORWARD|PREROUTING|OUTPUT|POSTROUTING) .*--comment "?whalebox"? -j WHALEBOX-\S+$/;

/** `iptables-save` output, whalebox's part of it: rules of other chains are never touched. */
export function parseSave(text: string): Snapshot {
  const rules: Line[] = [];
  const chains = new Set<string>();
  let table: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    if (table !== 'filter' && table !== 'nat') continue;
    const chain = /^:(WHALEBOX-\S+) /.exec(line);
    if (chain) chains.add(`${table}/${chain[1]}`);
    if ((line.startsWith('-A WHALEBOX-') && ownerOf(line) !== undefined) || HOOK.test(line)) rules.push({ table, text: line });
  }
  return { rules, chains };
}

/** The owner a rule's comment names, if it is one of ours (hooks have none). */
export function ownerOf(rule: string): string | undefined {
  return /--comment "?whalebox:([^"\s]+)"?/.exec(rule)?.[1];
}

/** Lines to create the missing chains and hooks (a hook goes when someone flushes a built-in chain). */
function baseLines(snapshot: Snapshot): Line[] {
  const hooked = (chain: string): boolean => snapshot.rules.some((rule) => !rule.text.startsWith('-A WHALEBOX-') && rule.text.endsWith(`-j ${chain}`));
  return CHAINS.flatMap(({ table, chain, hook }) => [
    ...(snapshot.chains.has(`${table}/${chain}`) ? [] : [{ table, text: `-N ${chain}` }]),
    ...(hook && !hooked(chain) ? [{ table, text: hook }] : []),
  ]);
}

/**
 * The lines that remove every rule of the owners `remove` picks; and, when our chains would be
 * left empty, the hooks and the chains themselves.
 */
export function removalLines(snapshot: Snapshot, remove: (owner: string) => boolean): Line[] {
  const owned = snapshot.rules.filter((rule) => ownerOf(rule.text) !== undefined);
  const doomed = owned.filter((rule) => remove(ownerOf(rule.text)!));
  const lines = doomed.map(({ table, text }) => ({ table, text: text.replace(/^-A /, '-D ') }));
  if (doomed.length > 0 && doomed.length === owned.length) {
    const hooks = snapshot.rules.filter((rule) => ownerOf(rule.text) === undefined && !rule.text.startsWith('-A WHALEBOX-'));
    lines.push(...hooks.map(({ table, text }) => ({ table, text: text.replace(/^-A /, '-D ') })));
    lines.push(...CHAINS.filter(({ table, chain }) => snapshot.chains.has(`${table}/${chain}`)).map(({ table, chain }) => ({ table, text: `-X ${chain}` })));
  }
  return lines;
}

/** The `iptables-restore` input for some lines: a section a table, each ending in COMMIT. */
export function restoreText(lines: readonly Line[]): string {
  return (['filter', 'nat'] as const)
    .map((table) => ({ table, texts: lines.filter((line) => line.table === table).map((line) => line.text) }))
    .filter(({ texts }) => texts.length > 0)
    .map(({ table, texts }) => `*${table}\n${texts.join('\n')}\nCOMMIT\n`)
    .join('');
}

async function snapshot(): Promise<Snapshot> {
  const saved = await runProcess('iptables-save', []);
  if (saved.status !== 0) throw new WhaleboxError(`firewall: iptables-save failed: ${saved.stderr.trim()}`);
  return parseSave(saved.stdout);
}

/**
 * Reads our rules, computes the change from them and applies it in one transaction; a change
 * that fails because another process changed the rules meanwhile is computed again.
 */
async function change(what: string, compute: (snapshot: Snapshot) => Line[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const lines = compute(await snapshot());
    if (lines.length === 0) return;
    const restored = await runProcess('iptables-restore', ['--noflush', '-w'], restoreText(lines));
    if (restored.status === 0) return;
    if (attempt === 3) throw new WhaleboxError(`firewall: ${what}: iptables-restore: ${restored.stderr.trim().split('\n').slice(-2).join('; ')}`);
  }
}

const owns = (snapshot: Snapshot, owner: string): boolean => snapshot.rules.some((rule) => ownerOf(rule.text) === owner);

/** The network's rules, and our chains if they are missing; nothing if it has rules already. */
export async function addNetworkRules(network: NetworkRules): Promise<void> {
  await change(`network ${network.id}`, (now) => (owns(now, network.id) ? [] : [...baseLines(now), ...networkRuleLines(network)]));
}

export async function removeNetworkRules(network: NetworkRules): Promise<void> {
  await change(`network ${network.id}`, (now) => removalLines(now, (owner) => owner === network.id));
}

/** The DNAT, forward and masquerade rules of a container's published ports. */
export async function addPortRules(containerId: string, network: NetworkRules, containerIp: string, mappings: readonly PortMapping[]): Promise<void> {
  if (mappings.some(onLoopback)) {
    // Without it, the kernel drops packets from 127.0.0.0/8 routed out of the bridge as martians.
    writeFileSync(`/proc/sys/net/ipv4/conf/${network.bridge}/route_localnet`, '1');
  }
  await change(`container ${containerId}`, (now) => (owns(now, containerId) ? [] : [...baseLines(now), ...portRuleLines(containerId, network, containerIp, mappings)]));
}

export async function removeContainerRules(containerId: string): Promise<void> {
  await change(`container ${containerId}`, (now) => removalLines(now, (owner) => owner === containerId));
}

/** The owners our rules name now: prune removes the rules of those whose container or network is gone. */
export async function listOwners(): Promise<string[]> {
  const owners = (await snapshot()).rules.map((rule) => ownerOf(rule.text)).filter((owner) => owner !== undefined);
  return [...new Set(owners)];
}
