// What one class left behind, as the store reads it and the reports read it: attendance intervals, engagement
// records and player beacons of one session. Types only.

export interface Interval {
  joinedAt: number;
  /** null: still connected (counted up to the end of the class). */
  leftAt: number | null;
}

export interface ClassData {
  session: { id: string; channel: string; startedAt: number; endedAt: number | null };
  now: number;
  /** Learners on the course roster (LMS classes); empty otherwise. */
  roster: { userId: string; name: string }[];
  attendance: ({ userId: string; name: string; role: string } & Interval)[];
  chat: { userId: string; at: number; deleted: boolean }[];
  questions: { id: string; userId: string }[];
  questionVotes: { questionId: string; userId: string }[];
  polls: { id: string; question: string; options: string[]; closed: boolean }[];
  pollVotes: { pollId: string; userId: string; option: number }[];
  tallies: { userId: string; reactions: number; hands: number }[];
  beacons: { userId: string; at: number; startupMs: number | null; rebuffers: number; rebufferMs: number; playedMs: number; rendition: string | null; errors: string[] }[];
}
