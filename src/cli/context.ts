// What every command needs: the loaded config and, on demand, the open store.
// Commands get these through here so none of them reads files or env on its own.

import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { connectStore, storeSettings, type Store } from '../store/index.js';

export interface Context {
  config: Config;
  /** Opens (and migrates) the store on first use; closed by the CLI when the command ends. */
  store(): Store;
}

const opened: Store[] = [];

export function contextFor(cmd: Command): Context {
  const globals = cmd.optsWithGlobals<{ config?: string }>();
  const config = loadConfig({ file: globals.config });
  let store: Store | undefined;
  return {
    config,
    store() {
      if (!store) {
        store = connectStore(storeSettings(config));
        opened.push(store);
      }
      return store;
    },
  };
}

export async function closeOpenedStores(): Promise<void> {
  for (const s of opened.splice(0)) await s.close();
}

