// The `kmk-live` program: parse → call → print. Maps errors to exit codes (0 ok, 1 runtime failure, 2 usage or
// validation error) and never prints a stack trace for a user's mistake.

import { Command, CommanderError } from 'commander';
import { UserError } from '../domain/errors.js';
import { registerChannel } from './channel.js';
import { registerConfig } from './config.js';
import { closeOpenedStores } from './context.js';
import { registerDb } from './db.js';
import { registerDoctor } from './doctor.js';
import { registerKey } from './key.js';
import { registerToken } from './token.js';
import { registerServe } from './serve.js';
import { registerSession } from './session.js';
import { registerStatus } from './status.js';
import { registerLti } from './lti.js';
import { registerClass } from './class.js';
import { registerReport } from './report.js';

export function buildProgram(): Command {
  const program = new Command('kmk-live')
    .description('KMK LiveStream: self-hosted live classes (RTMP in, adaptive HLS out, engagement hub)')
    .option('-c, --config <file>', 'config file overriding config/default.json (or set KMK_CONFIG)')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addHelpText('after', '\nExamples:\n  $ kmk-live channel create math-101\n  $ kmk-live doctor');
  registerChannel(program);
  registerKey(program);
  registerToken(program);
  registerConfig(program);
  registerDb(program);
  registerDoctor(program);
  registerServe(program);
  registerStatus(program);
  registerSession(program);
  registerClass(program);
  registerLti(program);
  registerReport(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2; // commander already printed the message
    if (err instanceof UserError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    const e = err as Error;
    process.stderr.write(`error: ${e.message}\n${process.env.KMK_DEBUG_STACK ? e.stack + '\n' : ''}`);
    return 1;
  } finally {
    await closeOpenedStores();
  }
}

process.exitCode = await main(process.argv);
