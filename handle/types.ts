// The handle value model (RFC 3651 §3): values, data formats, permissions, TTLs and references.

/** Value permissions (RFC 3651 §3.1 "Permission"): default is all but public write. */
export interface Permissions {
  adminRead: boolean;
  adminWrite: boolean;
  publicRead: boolean;
  publicWrite: boolean;
}

export const DEFAULT_PERMISSIONS: Readonly<Permissions> = Object.freeze({
  adminRead: true,
  adminWrite: true,
  publicRead: true,
  publicWrite: false,
});

/** A reference to one value of a handle: `index:handle`. */
export interface ValueReference {
  handle: string;
  index: number;
}

/**
 * HS_ADMIN data. `permissions` is the 12-character bit string Handle.Net prints, most significant first:
 * list_handles, read_value, add_admin, remove_admin, modify_admin, add_value, remove_value, modify_value,
 * delete_derived_prefix, add_derived_prefix, delete_handle, add_handle (so the last character is add_handle; the bit
 * numbers are Handle.Net's AdminRecord constants: ADD_HANDLE = 0 … MODIFY_ADMIN = 7, REMOVE_ADMIN = 8, ADD_ADMIN = 9,
 * READ_VALUE = 10, LIST_HANDLES = 11).
 */
export interface AdminData {
  handle: string;
  index: number;
  permissions: string;
}

/** Site and key data are kept as the JSON objects Handle.Net clients send and expect (validated on input). */
export type SiteData = Record<string, unknown>;
export type KeyData = Record<string, unknown>;

/**
 * Data of a value, always `{format, value}`. Byte data is kept as `string` when it is readable UTF-8 text and as
 * `base64` otherwise (input `hex` and `base64` are decoded to bytes first), as Handle.Net does.
 */
export type ValueData =
  | { format: 'string'; value: string }
  | { format: 'base64'; value: string }
  | { format: 'admin'; value: AdminData }
  | { format: 'vlist'; value: ValueReference[] }
  | { format: 'site'; value: SiteData }
  | { format: 'key'; value: KeyData };

export type DataFormat = ValueData['format'];

export interface HandleValue {
  /** 1 … 2^31-1 */
  index: number;
  /** e.g. URL, EMAIL, HS_ADMIN; compared case-insensitively */
  type: string;
  data: ValueData;
  /** relative: `ttl` is seconds to cache; absolute: `ttl` is the epoch second the value expires from caches */
  ttlType: 'relative' | 'absolute';
  ttl: number;
  /** epoch seconds of the last change, set by the node on write */
  timestamp: number;
  permissions: Permissions;
  references: ValueReference[];
}

/** Reserved indexes and types (DESIGN §2). */
export const INDEX = { ADMIN: 100, SECKEY: 300, TEMPLATE: 1001, TEMPLATE_FIELDS: 2000 } as const;
export const TYPE = {
  ADMIN: 'HS_ADMIN',
  SECKEY: 'HS_SECKEY',
  PUBKEY: 'HS_PUBKEY',
  SITE: 'HS_SITE',
  VLIST: 'HS_VLIST',
  URL: 'URL',
} as const;
export const DEFAULT_TTL = 86400;
