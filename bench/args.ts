// Command-line options of the bench entry points: node:util parseArgs in strict mode, usage errors without a stack, positive integer checks.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake of the caller (options, environment): printed without a stack. `help` marks a requested usage text (stdout, exit 0). */
export class BenchUsageError extends Error {
  constructor(
    message: string,
    readonly help = false,
  ) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs (strict, no positional arguments) with a `--help`/`-h` of its own; its errors become BenchUsageErrors that end with the usage. */
export function parseBenchArgs<const O extends Options>(argv: readonly string[], options: O, usage: string) {
  const config = { args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      const msg = (err as Error).message;
      throw new BenchUsageError(`${msg.charAt(0).toLowerCase()}${msg.slice(1)}\n${usage}`);
    }
    throw err;
  }
  if ((parsed.values as { help?: boolean }).help === true) throw new BenchUsageError(usage, true);
  return parsed.values;
}

/** The value of a `--name N` option as an integer from 1 to max; `dflt` when the option was not given. */
export function positiveInt(name: string, value: string | undefined, dflt: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n <= 0 || n > max) {
    throw new BenchUsageError(max === Number.MAX_SAFE_INTEGER ? `--${name} must be a positive integer` : `--${name} must be an integer from 1 to ${max}`);
  }
  return n;
}

/** Runs a bench's main: its exit code; a usage error printed without a stack (exit 2, or 0 for --help); anything else with its stack (exit 1). */
export function runMain(main: () => Promise<number | void>): void {
  main().then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (err: unknown) => {
      if (err instanceof BenchUsageError) {
        (err.help ? process.stdout : process.stderr).write(`${err.message}\n`);
        process.exitCode = err.help ? 0 : 2;
        return;
      }
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
