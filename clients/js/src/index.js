// ringpad-client: everything a program needs to edit ringpad documents.
export { Client, Doc, RingpadError } from './ringpad.js';
export {
  OtError, OpBuilder, normalize, apply, compose, transform, invert, transformPosition,
  baseLength, targetLength, isNoop, cpLength, cpSlice, utf8Length, splitOp,
} from './op.js';
export { DocClient, diffOp } from './client.js';
export { Connection, backoffDelayMs, closeReason, SUBPROTOCOL } from './connection.js';
