// Assertion helpers: the call throws a HandleError with this response code, or rejects with a RegistryError (of this kind).
import { expect } from 'vitest';
import { HandleError } from '../../handle/codes.js';
import { RegistryError } from '../../registry/context.js';

export function expectHandleError(fn: () => unknown, code: number): HandleError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HandleError);
    const he = e as HandleError;
    expect(he.code).toBe(code);
    expect(he.message.length).toBeGreaterThan(0);
    return he;
  }
  throw new Error('expected a HandleError, nothing was thrown');
}

/** The RegistryError `p` rejects with, checked to be of `kind` (and its message to match `msg`) when given. */
export async function registryRejection(p: Promise<unknown>, kind?: RegistryError['kind'], msg?: string | RegExp): Promise<RegistryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RegistryError);
    const re = e as RegistryError;
    if (kind !== undefined) expect(re.kind).toBe(kind);
    if (msg !== undefined) expect(re.message).toMatch(msg);
    return re;
  }
  throw new Error(`expected a RegistryError${kind === undefined ? '' : `(${kind})`}, the call succeeded`);
}
