// The shapes of the identifiers that appear in URLs and tokens, defined once for every edge that checks them.

/** Channel slugs: 1-64 of a-z, 0-9 and -, not starting or ending with -. */
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/** Session ids (they name /vod/<id>/): random, URL-safe. */
export const SESSION_ID_PATTERN = /^s_[a-z0-9]{16}$/;
