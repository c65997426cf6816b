/** The one place where tandem's typed errors become gRPC status codes. */
import * as grpc from '@grpc/grpc-js';
import { CommandError, ConfigError, ConflictError, NotFoundError, NotImplementedError, PreconditionError, ValidationError } from '../errors';

/** The gRPC status code for an error thrown by a handler. */
export function statusOf(err: unknown): grpc.status {
  if (err instanceof ValidationError || err instanceof ConfigError) return grpc.status.INVALID_ARGUMENT;
  if (err instanceof NotFoundError) return grpc.status.NOT_FOUND;
  if (err instanceof ConflictError) return grpc.status.FAILED_PRECONDITION;
  if (err instanceof PreconditionError) return grpc.status.FAILED_PRECONDITION;
  if (err instanceof NotImplementedError) return grpc.status.UNIMPLEMENTED;
  if (err instanceof CommandError) return grpc.status.INTERNAL;
  return grpc.status.UNKNOWN;
}

/** A grpc-js service error built from any thrown value. */
export function toServiceError(err: unknown): Partial<grpc.StatusObject> & Error {
  const message = err instanceof Error ? err.message : String(err);
  return Object.assign(new Error(message), { code: statusOf(err), details: message });
}
