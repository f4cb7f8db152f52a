import { WhaleboxError } from '../util/errors.js';
import { runProcess } from '../util/run-process.js';

/**
 * Runs `ip [-n NETNS] -force -batch -` with the commands on stdin: one process for any number of
 * links, addresses and routes. `-force` carries on past a failing line; each failure whose
 * message matches `tolerate` (an object that is already there, or already gone) counts as done,
 * and any other fails the call with ip's messages.
 */
export async function runIpBatch(commands: readonly string[], options: { netns?: string; tolerate?: RegExp } = {}): Promise<void> {
  if (commands.length === 0) return;
  const args = [...(options.netns ? ['-n', options.netns] : []), '-force', '-batch', '-'];
  const { status, stderr } = await runProcess('ip', args, `${commands.join('\n')}\n`);
  if (status === 0) return;
  const errors = stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^Command failed -:\d+$/.test(line) && !options.tolerate?.test(line));
  if (errors.length) throw new WhaleboxError(`network setup failed: ip ${args.slice(0, -2).join(' ')}: ${errors.join('; ')}`);
}
