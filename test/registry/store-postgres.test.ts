import { describe, it } from 'vitest';
import { freshDatabase, postgresUnavailable } from '../helpers/postgres.js';
import { storeSuite } from './store-suite.js';

const unavailable = await postgresUnavailable();
if (unavailable) {
  describe.skip(`registry store on PostgreSQL (skipped: ${unavailable})`, () => it('needs PostgreSQL', () => {}));
} else {
  storeSuite('PostgreSQL', async () => {
    const db = await freshDatabase();
    return { url: db.url, cleanup: db.drop };
  });
}
