// Tests for handle/codes.ts: every row of the responseCode → HTTP status table, and HandleError.
import { describe, expect, it } from 'vitest';
import { HandleError, httpStatusFor, RC, type RequestKind } from '../../handle/codes.js';

describe('httpStatusFor', () => {
  const rows: [string, number, RequestKind | undefined, boolean | undefined, number][] = [
    ['SUCCESS (default)', RC.SUCCESS, undefined, undefined, 200],
    ['SUCCESS resolve', RC.SUCCESS, 'resolve', true, 200],
    ['SUCCESS create overwrite=true', RC.SUCCESS, 'create', true, 200],
    ['SUCCESS create overwrite=false', RC.SUCCESS, 'create', false, 201],
    ['SUCCESS write overwrite=false', RC.SUCCESS, 'write', false, 200],
    ['SUCCESS other overwrite=false', RC.SUCCESS, 'other', false, 200],
    ['ERROR', RC.ERROR, undefined, undefined, 500],
    ['SERVER_TOO_BUSY', RC.SERVER_TOO_BUSY, undefined, undefined, 503],
    ['SERVER_READ_ONLY', RC.SERVER_READ_ONLY, undefined, undefined, 503],
    ['PROTOCOL_ERROR', RC.PROTOCOL_ERROR, undefined, undefined, 400],
    ['OPERATION_NOT_SUPPORTED', RC.OPERATION_NOT_SUPPORTED, undefined, undefined, 501],
    ['RECURSION_COUNT_TOO_HIGH (default row)', RC.RECURSION_COUNT_TOO_HIGH, undefined, undefined, 500],
    ['HANDLE_NOT_FOUND', RC.HANDLE_NOT_FOUND, 'resolve', undefined, 404],
    ['HANDLE_ALREADY_EXISTS', RC.HANDLE_ALREADY_EXISTS, 'create', false, 409],
    ['INVALID_HANDLE', RC.INVALID_HANDLE, undefined, undefined, 400],
    ['VALUES_NOT_FOUND on resolve', RC.VALUES_NOT_FOUND, 'resolve', undefined, 200],
    ['VALUES_NOT_FOUND on write', RC.VALUES_NOT_FOUND, 'write', undefined, 400],
    ['VALUES_NOT_FOUND on other', RC.VALUES_NOT_FOUND, undefined, undefined, 400],
    ['VALUE_ALREADY_EXISTS', RC.VALUE_ALREADY_EXISTS, 'write', false, 409],
    ['INVALID_VALUE', RC.INVALID_VALUE, undefined, undefined, 400],
    ['OUT_OF_DATE_SITE_INFO (default row)', RC.OUT_OF_DATE_SITE_INFO, undefined, undefined, 500],
    ['SERVER_NOT_RESP', RC.SERVER_NOT_RESP, undefined, undefined, 400],
    ['SERVICE_REFERRAL', RC.SERVICE_REFERRAL, undefined, undefined, 300],
    ['PREFIX_REFERRAL', RC.PREFIX_REFERRAL, undefined, undefined, 300],
    ['INVALID_ADMIN', RC.INVALID_ADMIN, undefined, undefined, 403],
    ['INSUFFICIENT_PERMISSIONS', RC.INSUFFICIENT_PERMISSIONS, undefined, undefined, 403],
    ['AUTHENTICATION_NEEDED', RC.AUTHENTICATION_NEEDED, undefined, undefined, 401],
    ['AUTHENTICATION_FAILED', RC.AUTHENTICATION_FAILED, undefined, undefined, 403],
    ['INVALID_CREDENTIAL', RC.INVALID_CREDENTIAL, undefined, undefined, 403],
    ['AUTHEN_TIMEOUT (default row)', RC.AUTHEN_TIMEOUT, undefined, undefined, 500],
    ['AUTHEN_ERROR (default row)', RC.AUTHEN_ERROR, undefined, undefined, 500],
    ['SESSION_TIMEOUT (default row)', RC.SESSION_TIMEOUT, undefined, undefined, 500],
    ['SESSION_FAILED (default row)', RC.SESSION_FAILED, undefined, undefined, 500],
    ['unknown code', 999, undefined, undefined, 500],
    ['zero', 0, undefined, undefined, 500],
  ];
  it.each(rows)('%s → %d', (_name, code, kind, overwrite, want) => {
    const got = kind === undefined ? httpStatusFor(code) : overwrite === undefined ? httpStatusFor(code, kind) : httpStatusFor(code, kind, overwrite);
    expect(got).toBe(want);
  });
  it('every RC has a row above', () => {
    const covered = new Set(rows.map((r) => r[1]));
    for (const code of Object.values(RC)) expect(covered.has(code)).toBe(true);
  });
});

describe('HandleError', () => {
  it('carries its code, message and name', () => {
    const e = new HandleError(RC.INVALID_HANDLE, 'Empty handle');
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe(102);
    expect(e.message).toBe('Empty handle');
    expect(e.name).toBe('HandleError');
  });
});
