// A session's transcript over HTTP: its caption lines for the replay page (anyone who may watch the replay), and
// an instructor's correction of one line, which also makes the recording's caption files again.

import { SESSION_ID_PATTERN } from '../domain/ids.js';
import type { CaptionCue } from '../domain/captions.js';
import { json, type HttpRequest, type Route } from './app.js';
import { readBody } from './validate.js';

export interface Transcript {
  sessionId: string;
  /** Program time (epoch ms) of the recording's start: a line's place in the replay is (start - t0) / 1000 s;
   * null when the recording has no captions (then no lines either). */
  t0: number | null;
  languages: string[];
  lines: Omit<CaptionCue, 'by'>[];
}

export interface CaptionRouteDeps {
  sessionChannel(id: string): string | undefined;
  /** Whether the request may watch this session's replay (a join token of its channel, or a public channel). */
  mayWatch(req: HttpRequest, slug: string): boolean;
  instructorOf(req: HttpRequest, slug: string): boolean;
  transcript(sessionId: string): Promise<Transcript | undefined>;
  /** Corrects one line; the corrected line, or undefined when the session has no such line. */
  correct(sessionId: string, cueId: string, text: string): Promise<CaptionCue | undefined>;
}

const CUE_ID = /^c[a-z0-9]{1,40}$/;

export function captionRoutes(d: CaptionRouteDeps): Route[] {
  const session = (path: string): { id: string; slug: string } | undefined => {
    const id = path.split('/')[3] ?? '';
    const slug = SESSION_ID_PATTERN.test(id) ? d.sessionChannel(id) : undefined;
    return slug ? { id, slug } : undefined;
  };
  return [
    {
      method: 'get', pattern: '/api/sessions/:id/transcript', handler: async (req) => {
        const s = session(req.path);
        if (!s) return json(404, { error: 'not_found', message: 'no such session' });
        if (!d.mayWatch(req, s.slug)) return json(401, { error: 'unauthorized', message: 'a join token for this class is required' });
        const t = await d.transcript(s.id);
        return t ? json(200, t) : json(404, { error: 'not_found', message: 'this session has no recording here' });
      },
    },
    {
      method: 'patch', pattern: '/api/sessions/:id/captions/:cue', handler: async (req) => {
        const s = session(req.path);
        if (!s) return json(404, { error: 'not_found', message: 'no such session' });
        if (!d.instructorOf(req, s.slug)) return json(401, { error: 'unauthorized', message: 'an instructor join token for this class\'s channel is required' });
        const cueId = req.path.split('/')[5] ?? '';
        if (!CUE_ID.test(cueId)) return json(404, { error: 'not_found', message: 'no such caption line' });
        const body = readBody('CaptionEdit', req.body);
        if (typeof body === 'string') return json(400, { error: 'invalid', message: body });
        const line = await d.correct(s.id, cueId, String(body.text).replace(/\s*\n\s*/g, '\n').trim());
        return line ? json(200, line) : json(404, { error: 'not_found', message: 'no such caption line in this session' });
      },
    },
  ];
}
