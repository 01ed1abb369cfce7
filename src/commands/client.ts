/**
 * A short command's client (store-client.ts) with the lifecycle, the read
 * model and the operations (hold, release, requeue, cancel) over it.
 */
import type { Settings } from '../core/settings-types.js';
import { ReadModel } from '../core/read-model.js';
import { Operations } from '../core/operations.js';
import { Lifecycle } from '../core/lifecycle.js';
import { JobMailer } from '../core/mail.js';
import { lazyLogger } from '../core/log.js';
import { withStore, type StoreClient } from './store-client.js';

export interface Client extends StoreClient {
  lifecycle: Lifecycle;
  model: ReadModel;
  operations: Operations;
}

export async function withClient<T>(settings: Settings, use: (client: Client) => Promise<T>): Promise<T> {
  return withStore(settings, async (client) => {
    const log = lazyLogger('qm');
    const mailer = JobMailer.create(settings, log);
    try {
      const lifecycle = new Lifecycle(client.store, client.layout, log, mailer);
      const model = new ReadModel(client.store, client.layout);
      // the command prints what it did: the operation's own log line would say it twice
      const operations = new Operations(lifecycle, model, settings.server.jobFile, lazyLogger('qm', 'warn'));
      return await use({ ...client, lifecycle, model, operations });
    } finally {
      await mailer?.close();
    }
  });
}
