/**
 * Example worker: `node dist/examples/worker.js` (GEARMAN_SERVERS=host:port,... to choose servers).
 * Serves `reverse` (with progress) and `wordcount`; Ctrl-C stops gracefully.
 */
import { Worker } from '../src/client/index.js';
import { serversFromEnv } from './servers.js';

const worker = new Worker({ servers: serversFromEnv(), concurrency: 4, clientId: 'example-worker' });

await worker.register('reverse', async (job) => {
  const text = job.text;
  job.status(0, text.length);
  const reversed = [...text].reverse().join('');
  job.data(reversed.slice(0, 10)); // a partial result, delivered as WORK_DATA
  job.status(text.length, text.length);
  return reversed;
});

await worker.register(
  'wordcount',
  (job) => {
    const words = job.text.split(/\s+/).filter(Boolean);
    if (words.length === 0) throw new Error('nothing to count'); // becomes WORK_EXCEPTION
    return String(words.length);
  },
  { timeoutMs: 5000 }, // CAN_DO_TIMEOUT: the server requeues the job after 5 s
);

worker.on('connect', (server) => console.log(`connected to ${server}`));
worker.on('disconnect', (server, error) => console.log(`lost ${server}: ${String(error)}`));
worker.on('warning', (error) => console.warn(`warning: ${error.message}`));

await worker.start();
console.log('worker ready; Ctrl-C to stop');

process.once('SIGINT', () => {
  console.log('stopping: finishing the jobs in hand');
  void worker.stop({ timeoutMs: 10_000 }).then(() => console.log('stopped'));
});
