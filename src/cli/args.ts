// Command-line arguments of the idnode commands: node:util parseArgs in strict mode, usage errors, the positive integer check.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../config.js';

/** A mistake in the command line: printed without a stack, exit code 2. */
export class UsageError extends Error {}

/** A command: parses its arguments first (throwing UsageError), then runs with the settings; the result is the exit code (-1: keep running). */
export type Command = (args: readonly string[]) => (config: Config) => Promise<number>;

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs in strict mode; its errors become UsageErrors that end with the command's usage line. */
export function parseCommandArgs<const O extends Options, const P extends boolean>(args: readonly string[], options: O, allowPositionals: P, usage: string) {
  const config = { args: [...args], options, strict: true, allowPositionals } as const;
  try {
    return parseArgs(config);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      const msg = (err as Error).message;
      throw new UsageError(`${msg.charAt(0).toLowerCase()}${msg.slice(1)}\n${usage}`);
    }
    throw err;
  }
}

/** The value of a `--name N` option as an integer from 1 to max (undefined when not given). */
export function positiveInt(name: string, value: string | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} must be an integer from 1 to ${max}`);
  return n;
}
