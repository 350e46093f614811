/**
 * Example client: `node dist/examples/client.js [text]` with examples/worker running.
 * Shows a foreground job with progress, an error, a background job and its status.
 */
import { Client, GearmanError, JobExceptionError } from '../src/client/index.js';
import { serversFromEnv } from './servers.js';

const client = new Client({ servers: serversFromEnv(), defaultTimeoutMs: 10_000 });
const text = process.argv[2] ?? 'Hello, Gearman!';

try {
  // Foreground: iterate for progress, then await the result.
  const job = client.submit('reverse', text, { priority: 'high' });
  for await (const event of job) {
    if (event.type === 'status') console.log(`progress ${event.numerator}/${event.denominator}`);
    else console.log(`${event.type}: ${event.data.toString()}`);
  }
  console.log(`reverse(${JSON.stringify(text)}) = ${await job.text()}`);

  // A worker exception rejects with a typed error.
  try {
    await client.submit('wordcount', '   ');
  } catch (error) {
    if (error instanceof JobExceptionError) console.log(`worker said: ${error.data.toString()}`);
    else throw error;
  }
  console.log(`words: ${await client.submit('wordcount', text).text()}`);

  // Background: the server queues it; ask for its status by handle or by unique id.
  const background = await client.submitBackground('wordcount', text, { unique: `example-${Date.now()}` });
  console.log(`queued ${background.handle} on ${background.server}`, await client.getStatus(background));
} catch (error) {
  if (error instanceof GearmanError) console.error(`failed (${error.code}): ${error.message}`);
  else throw error;
  process.exitCode = 1;
} finally {
  client.close();
}
