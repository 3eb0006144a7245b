// Which stage member each member's receive slots carry. Pure. A slot keeps its member while that member stays (no
// picture jumps to another tile when someone else leaves); free slots take the members not yet shown, in the order
// they came on stage.

export interface SlotView {
  audioMid: string;
  videoMid: string;
  userId: string;
  name: string;
  muted: boolean;
}

/** For each member, the member each of its slots carries (undefined: an empty slot). */
export function slotPlan(members: readonly { id: string; slots: readonly (string | undefined)[] }[]): Map<string, (string | undefined)[]> {
  const ids = new Set(members.map((m) => m.id));
  const out = new Map<string, (string | undefined)[]>();
  for (const m of members) {
    const kept = m.slots.map((s) => (s !== undefined && s !== m.id && ids.has(s) ? s : undefined));
    const shown = new Set(kept);
    const waiting = members.filter((o) => o.id !== m.id && !shown.has(o.id)).map((o) => o.id);
    out.set(m.id, kept.map((s) => s ?? waiting.shift()));
  }
  return out;
}
