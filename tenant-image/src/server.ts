import { pino } from 'pino';
import { buildApp } from './app.js';
import { createModelResponder } from './chat/model-responder.js';
import { localResponder } from './chat/responder.js';
import { loadTenantConfig } from './config.js';
import { FilesArea } from './files/files-area.js';
import { HistoryStore } from './history/history-store.js';
import { readSummary, SummaryPusher } from './summary/summary-pusher.js';

/** The tenant app's process: opens the history, serves, and stops gracefully on SIGTERM. */
async function main(): Promise<void> {
  const config = loadTenantConfig(process.env);
  const logger = pino({ level: config.logLevel, base: { service: 'tenant' } });
  const history = new HistoryStore(config.historyDir, config.historyMaxMessages);
  const files = new FilesArea(config.filesDir, config.fileMaxBytes, config.filesQuotaBytes);
  const responder = config.model ? createModelResponder(config.model) : localResponder;
  const pusher = config.summary
    ? new SummaryPusher({ ...config.summary, collect: () => readSummary(history, files), log: logger })
    : undefined;
  const app = await buildApp(config, {
    history,
    files,
    responder,
    logger,
    ...(pusher ? { onChange: () => pusher.changed() } : {}),
  });
  await app.listen({ host: '0.0.0.0', port: config.port });
  logger.info({ responder: config.model ? `model ${config.model.model}` : 'local' }, 'tenant app ready');
  pusher?.start();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing requests in flight');
    // Past the grace period, leave anyway: the platform's SIGKILL would come next.
    setTimeout(() => {
      history.close();
      process.exit(0);
    }, config.shutdownGraceMs).unref();
    await app.close();
    // The last figures, after the last request and before the database closes.
    await pusher?.stop();
    history.close();
    logger.info('stopped cleanly');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error('tenant app failed to start:', err);
  process.exit(1);
});
