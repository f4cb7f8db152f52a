import { WhaleboxError } from '../util/errors.js';
import { describeErrno, type LaunchResult } from '../runtime/launcher.js';

const ENOENT = 2;

/** Why a container could not start, in Docker's words where Docker has them. */
export function startFailure(result: LaunchResult): WhaleboxError {
  if (result.fatal) {
    return new WhaleboxError(`whalebox-shim failed to ${result.fatal.stage}: ${describeErrno(result.fatal.errno)}`);
  }
  const failed = result.failed;
  if (!failed) return new WhaleboxError(`the container's init process ended before starting (status ${result.status})`);
  if (failed.record.op === 'exec') {
    const command = String(failed.record.args[1]);
    if (failed.errno === ENOENT) {
      return command.includes('/')
        ? new WhaleboxError(`exec: "${command}": stat ${command}: no such file or directory`, 127)
        : new WhaleboxError(`exec: "${command}": executable file not found in $PATH`, 127);
    }
    return new WhaleboxError(`exec: "${command}": ${describeErrno(failed.errno)}`, 126);
  }
  return new WhaleboxError(`failed to start the container: ${failed.record.describe}: ${describeErrno(failed.errno)}`);
}
