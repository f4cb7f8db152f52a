import { WhaleboxError } from '../../../util/errors.js';

/**
 * A Dockerfile that cannot be parsed or built as written, worded as BuildKit's messages:
 * `dockerfile parse error on line 3: unknown instruction: FOO`. Line 0 stands for the file as
 * a whole (an empty file, no stage at all), and is then left out of the message.
 */
export class DockerfileError extends WhaleboxError {
  constructor(
    /** The message without its location. */
    readonly reason: string,
    readonly line: number,
  ) {
    super(line > 0 ? `dockerfile parse error on line ${line}: ${reason}` : reason, 1);
    this.name = 'DockerfileError';
  }
}
