/**
 * The one class for "a member reported this failure": a protocol code
 * (error-codes.ts) with its `details`. A member throws it to refuse a request
 * (src/server/errors.ts has a factory per failure mode); the net layer's RPC
 * carries code, message and details across; a client rebuilds a ServerError
 * for any code it has no more specific class for (an internal error, a code
 * this version does not know). One failure mode, seen from both ends, so one
 * class in the layer both ends share.
 */
import { ConcordError, type ConcordErrorCode } from '../common/errors.js';

export class ServerError extends ConcordError {
  constructor(
    code: ConcordErrorCode,
    message: string,
    /** The code's details as error-codes.ts documents them (best effort when they came from another version). */
    readonly details: unknown = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
