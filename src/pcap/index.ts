/** Capture files (pcap, pcapng) → packets → TCP segments. See each module's contract. */
export * from './capture.js';
export * from './errors.js';
export * from './ip.js';
export * from './link.js';
export * from './segments.js';
