// Who sent a native request: the one fact about the client that administration and sessions share.

/** Who sent a request: its address (IPv4-mapped IPv6 as plain IPv4), for the throttle and to bind a challenge or a session. */
export interface NativeClient {
  address: string;
}
