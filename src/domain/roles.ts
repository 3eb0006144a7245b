// Who someone is in a class. Every layer (tokens, hub, store, LTI) speaks these four words.

/** viewer: watches and reads, never posts (LTI Mentors and other non-course roles). */
export const ROLES = ['learner', 'moderator', 'instructor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];
