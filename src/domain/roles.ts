// Who someone is in a class. Every layer (tokens, hub, store, LTI) speaks these four words.

/** viewer: watches and reads, never posts (LTI Mentors and other non-course roles). */
/** captioner: watches and types the class's captions (a CART writer), nothing else. */
export const ROLES = ['learner', 'moderator', 'instructor', 'viewer', 'captioner'] as const;
export type Role = (typeof ROLES)[number];
