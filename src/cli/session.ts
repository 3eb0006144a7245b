// `kmk-live session …`: past and current live classes, and archiving a recording to Mux on demand.

import type { Command } from 'commander';
import { ValidationError } from '../domain/errors.js';
import { parseSlug } from '../domain/channel.js';
import { createLogger } from '../log.js';
import { Archiver } from '../mux/archive.js';
import { createMuxApi } from '../mux/client.js';
import { locateTool } from '../transcode/locate.js';
import { REPORT_TABLES, reportCsv, sessionReport, type ReportTable } from '../reports/service.js';
import { NotFoundError } from '../domain/errors.js';
import { contextFor } from './context.js';
import { fields, print, printJson, table } from './output.js';
import { replayUrl } from '../domain/media-layout.js';
import { ingestName } from '../domain/records.js';
import { publicBaseUrl } from '../config/urls.js';

export function formatProgress(sent: number, size: number): string {
  const pct = size > 0 ? Math.floor((100 * sent) / size) : 0;
  const bar = '#'.repeat(Math.round(pct / 5)).padEnd(20, '.');
  return `[${bar}] ${pct}% (${(sent / 1e6).toFixed(1)} of ${(size / 1e6).toFixed(1)} MB)`;
}

export function registerSession(program: Command): void {
  const group = program.command('session').description('past and current live classes');
  group.command('list')
    .description('list sessions, newest first')
    .option('--channel <slug>', 'only this channel')
    .option('--limit <n>', 'at most n sessions (1-1000)', '50')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live session list --channel math-101 --limit 10')
    .action(async (o: { channel?: string; limit: string; json?: boolean }, cmd: Command) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationError(`invalid --limit ${JSON.stringify(o.limit)}: expected an integer from 1 to 1000`);
      const list = (await contextFor(cmd).store().sessions.list({ channel: o.channel && parseSlug(o.channel), limit }));
      if (o.json) return printJson(list);
      if (list.length === 0) return print('No sessions yet.');
      print(table(['id', 'channel', 'started', 'ended', 'source', 'ladder', 'reconnects', 'end reason'],
        list.map((s) => [s.id, s.channel, s.startedAt, s.endedAt, s.source.width ? `${s.source.width}x${s.source.height}@${s.source.fps}` : '',
          s.ladder.join(','), s.reconnects, s.endReason])));
    });
  group.command('archive <id>')
    .description('archive a recorded session to Mux now, with a progress bar (resumes an unfinished upload)')
    .option('--json', 'print the final job as JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live session archive s_0123456789abcdef')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd);
      const c = ctx.config;
      if (!c['mux.tokenId'] || !c['mux.tokenSecret']) throw new ValidationError('Mux is not configured: set mux.tokenId and mux.tokenSecret (or MUX_TOKEN_ID / MUX_TOKEN_SECRET)');
      const store = ctx.store();
      const s = (await store.sessions.get(id));
      if (!s.recorded || !s.endedAt) throw new ValidationError(`session ${id} has no finished recording to archive`);
      const ffmpeg = locateTool('ffmpeg', { configured: c['transcode.ffmpegPath'] });
      if ('error' in ffmpeg) throw new Error(ffmpeg.error);
      const api = await createMuxApi({ tokenId: c['mux.tokenId'], tokenSecret: c['mux.tokenSecret'], webhookSecret: c['mux.webhookSecret'], baseUrl: c['mux.baseUrl'], playbackPolicy: c['mux.playbackPolicy'] });
      const archiver = new Archiver({ mediaDir: c['paths.media'], ffmpegPath: ffmpeg.path, chunkBytes: c['mux.uploadChunkBytes'], deleteLocal: c['mux.deleteLocalAfterArchive'], log: createLogger('error'), pollMs: 1000, maxPolls: 5 }, api, store.mux);
      await store.mux.createJob(id);
      const tty = process.stderr.isTTY;
      const job = await archiver.run(id, (j) => {
        if (j.size) process.stderr.write(`${tty ? '\r' : ''}${j.status.padEnd(10)} ${formatProgress(j.bytesSent, j.size)}${tty ? '' : '\n'}`);
      });
      if (tty) process.stderr.write('\n');
      if (o.json) printJson(job);
      else print(job.status === 'ready' ? `Archived: asset ${job.assetId}, playback ${job.playbackId}` : `Archive ${job.status}${job.error ? `: ${job.error}` : ''} (Mux finishes processing on its side; the webhook records the asset)`);
      if (job.status === 'errored') process.exitCode = 1;
    });

  group.command('show <id>')
    .description('show one session')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live session show s_0123456789abcdef')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd);
      const store = ctx.store();
      const s = (await store.sessions.get(id));
      const mux = (await store.mux.sessionMux(id));
      const job = (await store.mux.job(id));
      const report = (await sessionReport(store, id, Date.now()));
      const replay = s.recorded && s.endedAt ? `${publicBaseUrl(ctx.config)}${replayUrl(s.id)}` : '';
      const minutes = report?.session.minutes ?? null;
      if (o.json) return printJson({ ...s, mux, archive: job ?? null, replayUrl: replay || null, minutes, peakViewers: report?.summary.peakViewers ?? null });
      print(fields([
        ['id', s.id], ['channel', s.channel], ['started', s.startedAt], ['ended', s.endedAt ?? 'still live'],
        ['duration', minutes === null ? '' : `${minutes} min${s.endedAt ? '' : ' so far'}`],
        ['peak viewers', report?.summary.peakViewers ?? ''],
        ['source', s.source.width ? `${s.source.codec} ${s.source.width}x${s.source.height} @ ${s.source.fps} fps, audio ${s.source.audioCodec}${s.source.ingest ? `, from ${ingestName(s.source.ingest)}` : ''}` : ''],
        ['ladder', s.ladder.join(',')], ['bytes in', `${s.bytesIn}${s.endedAt ? '' : ' (updated every 5 s while live)'}`], ['reconnects', s.reconnects], ['ffmpeg restarts', s.restarts],
        ['recorded', s.recorded ? 'yes' : 'no'], ['end reason', s.endReason],
        ['replay', replay],
        ['runs on', mux?.overflow ? 'Mux (overflow)' : 'this box'],
        ['archive', job ? `${job.status}${job.size ? ` — ${formatProgress(job.bytesSent, job.size)}` : ''}${job.error ? ` (last error: ${job.error})` : ''}` : 'none'],
        ['mux asset', mux?.assetId ? `${mux.assetId} (playback ${mux.playbackId ?? '-'})` : ''],
      ]));
    });

  group.command('report <id>')
    .description('the class report: attendance, engagement, quality of experience (partial while live)')
    .option('--csv [table]', `print one table as CSV: ${REPORT_TABLES.join(', ')} (default learners)`)
    .option('--json', 'print the whole report as JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live session report s_0123456789abcdef --csv learners > attendance.csv')
    .action(async (id: string, o: { csv?: string | boolean; json?: boolean }, cmd: Command) => {
      const r = (await sessionReport(contextFor(cmd).store(), id, Date.now()));
      if (!r) throw new NotFoundError(`no session "${id.slice(0, 40)}" (see: kmk-live session list)`);
      if (o.json) return printJson(r);
      if (o.csv !== undefined) {
        const t = (o.csv === true ? 'learners' : o.csv) as ReportTable;
        if (!REPORT_TABLES.includes(t)) throw new ValidationError(`--csv takes one of ${REPORT_TABLES.join(', ')}`);
        process.stdout.write(reportCsv(r, t));
        return;
      }
      const s = r.summary;
      print(fields([
        ['session', `${r.session.id} on ${r.session.channel}${r.session.partial ? ' (still live: partial report)' : ''}`],
        ['time', `${r.session.start} → ${r.session.end ?? 'now'} (${r.session.minutes} min)`],
        ['attendance', `${s.attended} came${s.rostered ? ` of ${s.rostered} on the roster, ${s.neverCame} never came` : ''}; ${s.late} late, ${s.leftEarly} left early`],
        ['viewers', `peak ${s.peakViewers}, average ${s.averageViewers}`],
        ['engagement', `${s.chat} chat, ${s.questions} questions, ${s.upvotes} upvotes, ${s.pollAnswers} poll answers, ${s.reactions} reactions, ${s.hands} hands`],
        ['quality', `median startup ${s.medianStartupMs ?? '-'} ms, rebuffering ${s.rebufferPct ?? '-'}%, ${s.playbackErrors} playback errors, ${s.exitsBeforeStart} left before the video started, ${s.badExperience} with a bad experience`],
        ['most active', r.mostActive.join(', ') || '-'], ['silent', r.silent.join(', ') || '-'],
        ...(r.stage ? [['on stage', r.stage.map((s) => `${s.name} ${s.minutes >= 1 ? `${s.minutes} min` : `${s.seconds} s`}`).join(', ')] as [string, string]] : []),
        ...(r.captions ? [['captions', `${r.captions.lines} lines in ${r.captions.languages.join(', ')} (${r.captions.typed} typed, ${r.captions.fromSpeech} from speech); transcript: /vod/${r.session.id}/captions-${r.captions.languages[0]}/transcript.txt`] as [string, string]] : []),
      ]));
      if (r.learners.length) {
        print('');
        print(table(['learner', 'minutes', 'share', 'late', 'left early', 'chat', 'questions', 'polls', 'rebuffer'], r.learners.map((l) => [
          l.name, l.minutes, `${l.sharePct}%`, l.late ? 'yes' : '', l.leftEarly ? 'yes' : '', l.chat, l.questions, l.pollAnswers, l.rebufferPct === null ? '' : `${l.rebufferPct}%`])));
      }
    });
}
