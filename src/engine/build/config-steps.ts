import { posix } from 'node:path';
import { exposedPorts } from '../../image/changes.js';
import type { ImageRunConfig } from '../../image/oci-image.js';
import { WhaleboxError } from '../../util/errors.js';
import { parseSignal } from '../lifecycle.js';
import type {
  CommandForm,
  CommandInstruction,
  HealthcheckInstruction,
  Instruction,
  KeyValueInstruction,
  ListInstruction,
  OnbuildInstruction,
  ShellInstruction,
  WordInstruction,
} from './dockerfile/types.js';

/** The instructions that change only the image config (no layer, no container). */
export type ConfigInstruction =
  | KeyValueInstruction
  | WordInstruction
  | CommandInstruction
  | ShellInstruction
  | ListInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;

const CONFIG_KINDS = new Set(['ENV', 'LABEL', 'WORKDIR', 'USER', 'STOPSIGNAL', 'MAINTAINER', 'CMD', 'ENTRYPOINT', 'SHELL', 'EXPOSE', 'VOLUME', 'HEALTHCHECK', 'ONBUILD']);

export function isConfigInstruction(instruction: Instruction): instruction is ConfigInstruction {
  return CONFIG_KINDS.has(instruction.kind);
}

/** Expands a Dockerfile word against the variables in scope (words.ts, with the stage's env and args). */
export interface Expand {
  word(raw: string): string;
  words(raw: string): string[];
}

const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

/** A command as the image stores it: exec form as given, shell form through the stage's SHELL. */
export function commandArgs(command: CommandForm, config: ImageRunConfig): string[] {
  return 'exec' in command ? [...command.exec] : [...(config.Shell ?? DEFAULT_SHELL), command.shell];
}

/**
 * The run config after one config instruction, as BuildKit's dispatchers make it.
 * `cmdSet` says whether this stage has set CMD already: an ENTRYPOINT clears an inherited CMD.
 */
export function applyConfigInstruction(config: ImageRunConfig, instruction: ConfigInstruction, expand: Expand, cmdSet: boolean): ImageRunConfig {
  const next = structuredClone(config);
  switch (instruction.kind) {
    case 'ENV': {
      const env = new Map((next.Env ?? []).map((entry) => [entry.split('=', 1)[0]!, entry]));
      // Every value sees the variables as they were before the instruction (Docker's rule).
      for (const [rawKey, rawValue] of instruction.rawPairs) {
        const key = expand.word(rawKey);
        if (key === '') throw new WhaleboxError('ENV names must not be empty', 1);
        env.set(key, `${key}=${expand.word(rawValue)}`);
      }
      next.Env = [...env.values()];
      break;
    }
    case 'LABEL':
      next.Labels = { ...next.Labels };
      for (const [rawKey, rawValue] of instruction.rawPairs) next.Labels[expand.word(rawKey)] = expand.word(rawValue);
      break;
    case 'WORKDIR':
      // A relative WORKDIR continues from the previous one.
      next.WorkingDir = posix.resolve(next.WorkingDir || '/', expand.word(instruction.rawValue));
      break;
    case 'USER':
      next.User = expand.word(instruction.rawValue);
      break;
    case 'STOPSIGNAL': {
      const signal = expand.word(instruction.rawValue);
      parseSignal(signal);
      next.StopSignal = signal;
      break;
    }
    case 'CMD':
      next.Cmd = commandArgs(instruction.command, next);
      break;
    case 'ENTRYPOINT':
      next.Entrypoint = commandArgs(instruction.command, next);
      if (!cmdSet) delete next.Cmd;
      break;
    case 'SHELL':
      next.Shell = [...instruction.shell];
      break;
    case 'EXPOSE':
      next.ExposedPorts = { ...next.ExposedPorts };
      for (const raw of instruction.rawValues) for (const word of expand.words(raw)) for (const port of exposedPorts(word)) next.ExposedPorts[port] = {};
      break;
    case 'VOLUME':
      next.Volumes = { ...next.Volumes };
      for (const raw of instruction.rawValues) {
        for (const path of expand.words(raw)) {
          if (path.trim() === '') throw new WhaleboxError('VOLUME specified can not be an empty string', 1);
          next.Volumes[path] = {};
        }
      }
      break;
    case 'HEALTHCHECK': {
      const { test, interval, timeout, startPeriod, startInterval, retries } = instruction;
      next.Healthcheck = {
        Test: [...test],
        ...(interval ? { Interval: interval } : {}),
        ...(timeout ? { Timeout: timeout } : {}),
        ...(startPeriod ? { StartPeriod: startPeriod } : {}),
        ...(startInterval ? { StartInterval: startInterval } : {}),
        ...(retries ? { Retries: retries } : {}),
      };
      break;
    }
    case 'ONBUILD':
      next.OnBuild = [...(next.OnBuild ?? []), instruction.trigger];
      break;
    case 'MAINTAINER':
      // The image's author, outside the run config: the builder sets it.
      break;
  }
  return next;
}
