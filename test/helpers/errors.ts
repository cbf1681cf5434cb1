// Assertion helper: the call throws a HandleError with this response code and a non-empty message.
import { expect } from 'vitest';
import { HandleError } from '../../handle/codes.js';

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
