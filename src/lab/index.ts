/** The lab: emulated paths (the userspace relay; namespaces, shaping and NFQUEUE delay), and SVG figures. */
export * from './relay.js';
export * from './svg.js';
export * from './netns.js';
export * from './topology.js';
