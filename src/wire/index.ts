/** The wire codecs: MPTCP options (RFC 8684 §3), TCP headers and options, the DSS checksum. */
export * from './dss-checksum.js';
export * from './ip-address.js';
export * from './mptcp-option.js';
export * from './tcp-header.js';
export * from './tcp-options.js';
export * from './types.js';
