// `kmk-live channel …`: create, list, show, update, delete channels.

import type { Command } from 'commander';
import { ValidationError } from '../domain/errors.js';
import {
  parseEncodeProfile, parseLadder, parseLatency, parseOnOff, parseOverflow, parseSlug, parseStartsAt, parseTitle, type Channel,
} from '../domain/channel.js';
import { parseCaptionLanguages, parseCaptionMode } from '../domain/captions.js';
import type { ChannelPatch } from '../domain/records.js';
import { obsServerUrl as obsServer, publicBaseUrl } from '../config/urls.js';
import { contextFor } from './context.js';
import { chooseBox } from '../cluster/choose.js';
import { fields, print, printJson, table } from './output.js';

interface ChannelOpts {
  title?: string;
  ladder?: string;
  latency?: string;
  record?: string;
  archive?: string;
  overflow?: string;
  profile?: string;
  guests?: string;
  startsAt?: string;
  public?: string;
  captions?: string;
  captionLanguages?: string;
  json?: boolean;
  yes?: boolean;
}

function patchFrom(o: ChannelOpts): ChannelPatch {
  const p: ChannelPatch = {};
  if (o.title !== undefined) p.title = parseTitle(o.title);
  if (o.ladder !== undefined) p.ladder = parseLadder(o.ladder);
  if (o.latency !== undefined) p.latency = parseLatency(o.latency);
  if (o.record !== undefined) p.record = parseOnOff('record setting', o.record);
  if (o.archive !== undefined) p.archive = parseOnOff('archive setting', o.archive);
  if (o.overflow !== undefined) p.overflow = parseOverflow(o.overflow);
  if (o.profile !== undefined) p.profile = parseEncodeProfile(o.profile);
  if (o.guests !== undefined) p.allowGuests = parseOnOff('guests setting', o.guests);
  if (o.startsAt !== undefined) p.startsAt = parseStartsAt(o.startsAt);
  if (o.public !== undefined) p.public = parseOnOff('public setting', o.public);
  if (o.captions !== undefined) p.captions = parseCaptionMode(o.captions);
  if (o.captionLanguages !== undefined) p.captionLanguages = parseCaptionLanguages(o.captionLanguages);
  return p;
}

const settingOptions = (c: Command): Command =>
  c
    .option('--title <title>', 'display title')
    .option('--ladder <rungs>', 'ladder profile, e.g. 1080p,720p,480p,360p')
    .option('--latency <profile>', 'standard (2 s segments), low (1 s) or ultra (Low-Latency HLS: 1 s segments in ~0.3 s parts)')
    .option('--record <on|off>', 'keep the whole class on disk for replay')
    .option('--archive <on|off>', 'upload the recording to Mux')
    .option('--overflow <policy>', 'when the box is full: mux, degrade or refuse')
    .option('--profile <profile>', 'how the ladder spends its bits: lecture (slides, a talking head) or motion (labs, sport)')
    .option('--guests <on|off>', 'let learners join the engagement hub with just a display name')
    .option('--starts-at <time>', 'scheduled start shown in the waiting room (ISO time, or none)')
    .option('--public <on|off>', 'play without a playback token (default off: private, learners need a join token)')
    .option('--captions <mode>', 'live captions: off, human (a captioner or the instructor types them) or auto (a speech engine; docs/captions.md)')
    .option('--caption-languages <tags>', 'caption tracks, e.g. en or en,es (the first is the default; default en)');

export function channelDetails(c: Channel): [string, string | number][] {
  return [
    ['slug', c.slug], ['title', c.title], ['ladder', c.ladder.join(',')], ['latency', c.latency],
    ['record', c.record ? 'on' : 'off'], ['archive', c.archive ? 'on' : 'off'], ['overflow', c.overflow], ['profile', c.profile],
    ['guests', c.allowGuests ? 'on' : 'off'], ['public', c.public ? 'on' : 'off'], ['starts at', c.startsAt ?? ''],
    ['captions', c.captions === 'off' ? 'off' : `${c.captions} (${c.captionLanguages.join(', ')})`], ['created', c.createdAt], ['updated', c.updatedAt],
  ];
}

export function registerChannel(program: Command): void {
  const group = program.command('channel').description('manage channels (one per class or room)');

  settingOptions(group.command('create <slug>'))
    .description('create a channel and its first stream key')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live channel create math-101 --title "Math 101" --latency low')
    .action(async (slugArg: string, o: ChannelOpts, cmd: Command) => {
      const ctx = contextFor(cmd);
      const slug = parseSlug(slugArg);
      const p = patchFrom(o);
      const store = ctx.store();
      const created = await store.channels.createWithKey({
          slug,
          title: p.title ?? slug,
          ladder: p.ladder ?? parseLadder(ctx.config['channels.defaultLadder']),
          latency: p.latency ?? ctx.config['channels.defaultLatency'],
          record: p.record ?? true,
          archive: p.archive ?? false,
          overflow: p.overflow ?? ctx.config['channels.defaultOverflow'],
          profile: p.profile ?? ctx.config['channels.defaultProfile'],
          allowGuests: p.allowGuests ?? false,
          startsAt: p.startsAt ?? null,
          public: p.public ?? false,
          captions: p.captions ?? 'off',
          captionLanguages: p.captionLanguages ?? ['en'],
      });
      const server = obsServer(ctx.config);
      if (o.json) {
        const base = publicBaseUrl(ctx.config);
        printJson({ channel: created.channel, streamKey: created.key, fingerprint: created.info.fingerprint, obs: { server, streamKey: created.key }, watchUrl: `${base}/watch/${slug}`, studioUrl: `${base}/studio/${slug}` });
        return;
      }
      print(`Channel "${slug}" created.\n`);
      print('OBS → Settings → Stream (Service: Custom...):');
      print(`  Server:      ${server}`);
      print(`  Stream Key:  ${created.key}`);
      print(`\nThe stream key is shown only now (fingerprint ${created.info.fingerprint}). Keep it secret;`);
      print(`"kmk-live key rotate ${slug}" issues a new one.`);
      const base = publicBaseUrl(ctx.config);
      print('\nNext steps:');
      print(`  1. Paste the server and key into OBS and press "Start Streaming".`);
      print(`  2. Instructor studio: kmk-live token join ${slug} --user <you> --name "<your name>" --role instructor`);
      print(`     (prints your link to ${base}/studio/${slug})`);
      print(`  3. Learners watch at ${base}/watch/${slug}${created.channel.public ? '' : ' with a join token (kmk-live token join, or launched from the LMS)'}`);
    });

  group.command('list')
    .description('list channels')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live channel list --json')
    .action(async (o: ChannelOpts, cmd: Command) => {
      const channels = (await contextFor(cmd).store().channels.list());
      if (o.json) return printJson(channels);
      if (channels.length === 0) return print('No channels yet. Create one: kmk-live channel create <slug>');
      print(table(['slug', 'title', 'ladder', 'latency', 'record', 'archive', 'overflow'],
        channels.map((c) => [c.slug, c.title, c.ladder.join(','), c.latency, c.record ? 'on' : 'off', c.archive ? 'on' : 'off', c.overflow])));
    });

  group.command('show <slug>')
    .description('show one channel, its OBS server and active key fingerprint')
    .option('--node <name>', 'on a shared store: the box the instructor should push to (default: the one running the class, else the one with most room)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live channel show math-101\n  $ kmk-live channel show math-101 --node live-2')
    .action(async (slug: string, o: ChannelOpts & { node?: string }, cmd: Command) => {
      const ctx = contextFor(cmd);
      const store = ctx.store();
      const c = (await store.channels.get(parseSlug(slug)));
      const active = (await store.streamKeys.list(c.id)).find((k) => k.active);
      let base = publicBaseUrl(ctx.config);
      let server = obsServer(ctx.config);
      let box: ReturnType<typeof chooseBox> | undefined;
      if (ctx.config['store.url']) {
        box = chooseBox(await store.nodes.list(), await store.nodes.claims(), c.id, Date.now(), o.node);
        if ('error' in box) throw new ValidationError(box.error);
        ({ url: base, rtmp: server } = box);
      } else if (o.node !== undefined) {
        throw new ValidationError('--node picks a box among those sharing a store (store.url); this installation has one box');
      }
      if (o.json) return printJson({ ...c, obsServer: server, ...(box ? { box } : {}), activeKey: active ?? null, watchUrl: `${base}/watch/${c.slug}`, studioUrl: `${base}/studio/${c.slug}` });
      print(fields([...channelDetails(c), ...(box && !('error' in box) ? [['box', `${box.name}: ${box.why}`] as [string, string]] : []), ['obs server', server], ['watch page', `${base}/watch/${c.slug}`], ['studio', `${base}/studio/${c.slug} (with an instructor join token)`],
        ['stream key', active ? `fingerprint ${active.fingerprint}` : 'none (kmk-live key rotate ' + c.slug + ')']]));
    });

  settingOptions(group.command('update <slug>'))
    .description('change a channel\'s settings')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live channel update math-101 --ladder 720p,480p --record off')
    .action(async (slug: string, o: ChannelOpts, cmd: Command) => {
      const p = patchFrom(o);
      if (Object.keys(p).length === 0) {
        throw new ValidationError('nothing to update: give at least one of --title, --ladder, --latency, --record, --archive, --overflow, --profile, --guests, --starts-at, --public');
      }
      const c = (await contextFor(cmd).store().channels.update(parseSlug(slug), p));
      if (o.json) return printJson(c);
      print(fields(channelDetails(c)));
    });

  group.command('delete <slug>')
    .description('delete a channel and its stream keys')
    .option('--yes', 'confirm the deletion')
    .addHelpText('after', '\nExample:\n  $ kmk-live channel delete math-101 --yes')
    .action(async (slug: string, o: ChannelOpts, cmd: Command) => {
      const s = parseSlug(slug);
      const store = contextFor(cmd).store();
      await store.channels.get(s);
      if (!o.yes) throw new ValidationError(`refusing to delete channel "${s}" without --yes`);
      await store.channels.delete(s);
      print(`Channel "${s}" deleted.`);
    });
}
