// Handle protocol response codes (RFC 3652 §2.2.2.3 plus Handle.Net v9) and their HTTP statuses for the REST face.

export const RC = {
  SUCCESS: 1,
  ERROR: 2,
  SERVER_TOO_BUSY: 3,
  PROTOCOL_ERROR: 4,
  OPERATION_NOT_SUPPORTED: 5,
  RECURSION_COUNT_TOO_HIGH: 6,
  SERVER_READ_ONLY: 7,
  HANDLE_NOT_FOUND: 100,
  HANDLE_ALREADY_EXISTS: 101,
  INVALID_HANDLE: 102,
  VALUES_NOT_FOUND: 200,
  VALUE_ALREADY_EXISTS: 201,
  INVALID_VALUE: 202,
  OUT_OF_DATE_SITE_INFO: 300,
  SERVER_NOT_RESP: 301,
  SERVICE_REFERRAL: 302,
  PREFIX_REFERRAL: 303,
  INVALID_ADMIN: 400,
  INSUFFICIENT_PERMISSIONS: 401,
  AUTHENTICATION_NEEDED: 402,
  AUTHENTICATION_FAILED: 403,
  INVALID_CREDENTIAL: 404,
  AUTHEN_TIMEOUT: 405,
  AUTHEN_ERROR: 406,
  SESSION_TIMEOUT: 500,
  SESSION_FAILED: 501,
} as const;

export type ResponseCode = (typeof RC)[keyof typeof RC];

/** What kind of request a response answers: decides the two context-dependent rows of the table. */
export type RequestKind = 'resolve' | 'create' | 'write' | 'other';

/**
 * The responseCode → HTTP status table of the Handle.Net v9 REST API:
 * 1→200 (201 for a create or add with overwrite=false), 200→200 on resolution (else 400),
 * 2→500, 3/7→503, 4/102/202/301→400, 5→501, 100→404, 101/201→409, 302/303→300,
 * 402→401, 400/401/403/404→403; anything else 500.
 */
export function httpStatusFor(code: number, kind: RequestKind = 'other', overwrite = true): number {
  switch (code) {
    case RC.SUCCESS:
      return kind === 'create' && !overwrite ? 201 : 200;
    case RC.VALUES_NOT_FOUND:
      return kind === 'resolve' ? 200 : 400;
    case RC.PREFIX_REFERRAL:
    case RC.SERVICE_REFERRAL:
      return 300;
    case RC.HANDLE_NOT_FOUND:
      return 404;
    case RC.HANDLE_ALREADY_EXISTS:
    case RC.VALUE_ALREADY_EXISTS:
      return 409;
    case RC.PROTOCOL_ERROR:
    case RC.INVALID_HANDLE:
    case RC.INVALID_VALUE:
    case RC.SERVER_NOT_RESP:
      return 400;
    case RC.OPERATION_NOT_SUPPORTED:
      return 501;
    case RC.SERVER_TOO_BUSY:
    case RC.SERVER_READ_ONLY:
      return 503;
    case RC.AUTHENTICATION_NEEDED:
      return 401;
    case RC.INVALID_ADMIN:
    case RC.INSUFFICIENT_PERMISSIONS:
    case RC.AUTHENTICATION_FAILED:
    case RC.INVALID_CREDENTIAL:
      return 403;
    default:
      return 500;
  }
}

/** A failure that carries its Handle response code; every layer throws these for expected errors. */
export class HandleError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'HandleError';
  }
}
