// Who is on a class's stage (a learner asks aloud, a co-teacher joins) and who may come up: pure rules, no
// sockets, no media. An invitation is a grant for one user in this class, valid a minute (an expired one is refused
// when accepted; the invited page counts down itself); only an invited user who accepts, or a staff member who
// steps up, is on stage; at most `max` at once. The media side will ask `mayPublish` and nothing else.

import type { Role } from '../domain/roles.js';
import type { StageInvite, StageMember } from '../domain/engagement.js';

export type { StageInvite, StageMember };

/** What changed: members (everyone is told), invites (staff are told), one person's own news, a spell to record. */
export interface StageChange {
  members?: boolean;
  invites?: boolean;
  toUser?: { userId: string; msg: { t: 'stage_invited'; by: string; expiresAt: number } | { t: 'stage_removed'; reason: 'removed' | 'declined' | 'expired' } };
  spell?: { userId: string; name: string; joinedAt: number; leftAt: number | null };
}

export type StageResult = { ok: true; change: StageChange } | { ok: false; code: 'forbidden' | 'not_found' | 'rate_limited' | 'invalid'; message: string };

export const INVITE_MS = 60_000;

export class Stage {
  private readonly members = new Map<string, StageMember>();
  private readonly invites = new Map<string, StageInvite>();

  constructor(private readonly max: number) {}

  view(): StageMember[] {
    return [...this.members.values()].sort((a, b) => a.since - b.since).map((m) => ({ ...m }));
  }

  pending(now: number): StageInvite[] {
    return [...this.invites.values()].filter((i) => i.expiresAt > now).map((i) => ({ ...i }));
  }

  has(userId: string): boolean {
    return this.members.has(userId);
  }

  /** Whether this user may send audio and video to the stage now: on stage, and not muted for audio. */
  mayPublish(userId: string): { video: boolean; audio: boolean } {
    const m = this.members.get(userId);
    return { video: !!m, audio: !!m && !m.muted };
  }

  private full(): StageResult | undefined {
    return this.members.size >= this.max ? { ok: false, code: 'rate_limited', message: `the stage holds at most ${this.max} people (stage.maxMembers)` } : undefined;
  }

  invite(by: string, target: { userId: string; name: string } | undefined, now: number): StageResult {
    if (!target) return { ok: false, code: 'not_found', message: 'that person is not in the class' };
    if (this.members.has(target.userId)) return { ok: false, code: 'invalid', message: `${target.name} is already on stage` };
    const full = this.full();
    if (full) return full;
    const expiresAt = now + INVITE_MS;
    this.invites.set(target.userId, { userId: target.userId, name: target.name, expiresAt });
    return { ok: true, change: { invites: true, toUser: { userId: target.userId, msg: { t: 'stage_invited', by, expiresAt } } } };
  }

  accept(who: { userId: string; name: string; role: Role }, now: number): StageResult {
    const inv = this.invites.get(who.userId);
    if (!inv || inv.expiresAt <= now) {
      this.invites.delete(who.userId);
      return { ok: false, code: 'forbidden', message: 'no invitation to the stage (or it expired): raise your hand' };
    }
    const full = this.full();
    if (full) return full;
    this.invites.delete(who.userId);
    return this.add(who, now);
  }

  decline(userId: string): StageResult {
    if (!this.invites.delete(userId)) return { ok: false, code: 'not_found', message: 'no invitation to decline' };
    return { ok: true, change: { invites: true } };
  }

  /** A staff member steps up by themself. */
  join(who: { userId: string; name: string; role: Role }, now: number): StageResult {
    if (this.members.has(who.userId)) return { ok: true, change: {} };
    const full = this.full();
    if (full) return full;
    return this.add(who, now);
  }

  private add(who: { userId: string; name: string; role: Role }, now: number): StageResult {
    this.members.set(who.userId, { userId: who.userId, name: who.name, role: who.role, since: now, muted: false });
    return { ok: true, change: { members: true, invites: true, spell: { userId: who.userId, name: who.name, joinedAt: now, leftAt: null } } };
  }

  /** Off the stage: left, removed by staff, or gone from the class. A pending invitation is withdrawn instead. */
  remove(userId: string, now: number, reason: 'left' | 'removed'): StageResult {
    const m = this.members.get(userId);
    if (!m) {
      if (this.invites.delete(userId)) return { ok: true, change: { invites: true, ...(reason === 'removed' ? { toUser: { userId, msg: { t: 'stage_removed', reason: 'removed' } } } : {}) } };
      return { ok: false, code: 'not_found', message: 'not on stage' };
    }
    this.members.delete(userId);
    return {
      ok: true,
      change: {
        members: true, spell: { userId, name: m.name, joinedAt: m.since, leftAt: now },
        ...(reason === 'removed' ? { toUser: { userId, msg: { t: 'stage_removed', reason: 'removed' } } } : {}),
      },
    };
  }

  mute(userId: string, muted: boolean): StageResult {
    const m = this.members.get(userId);
    if (!m) return { ok: false, code: 'not_found', message: 'not on stage' };
    m.muted = muted;
    return { ok: true, change: { members: true } };
  }

  /** The class ended: everyone steps down (their spells end now), invitations lapse. */
  clear(now: number): StageChange[] {
    const out = [...this.members.values()].map((m): StageChange => ({ members: true, spell: { userId: m.userId, name: m.name, joinedAt: m.since, leftAt: now } }));
    this.members.clear();
    this.invites.clear();
    return out;
  }
}
