// The small set of typed errors every module throws across its boundary.
// User errors map to exit code 2 / HTTP 4xx; anything else is internal (exit 1 / HTTP 500).

export class UserError extends Error {
  override name = 'UserError';
}
/** Bad input: a malformed argument, an invalid value. */
export class ValidationError extends UserError {
  override name = 'ValidationError';
}
/** The named thing does not exist. */
export class NotFoundError extends UserError {
  override name = 'NotFoundError';
}
/** The request clashes with existing state (a slug already taken, a channel already live). */
export class ConflictError extends UserError {
  override name = 'ConflictError';
}
/** The caller may not do this (HTTP 403): a token without the scope it needs. */
export class ForbiddenError extends UserError {
  override name = 'ForbiddenError';
}
/** The configuration cannot be used; the message names the key, the value and what was expected. */
export class ConfigError extends UserError {
  override name = 'ConfigError';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
