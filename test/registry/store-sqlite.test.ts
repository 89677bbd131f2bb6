import { join } from 'node:path';
import { scratchDir } from '../helpers/registry.js';
import { storeSuite } from './store-suite.js';

storeSuite('SQLite', async () => ({ url: join(scratchDir(), 'nested', 'registry.db'), cleanup: async () => {} }));
