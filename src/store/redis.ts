/**
 * Redis store (ioredis). Binary-safe: every byte field travels as a Buffer, so workloads with
 * NUL bytes round-trip (gearmand's plugin truncates them at the first NUL, spec 4.5).
 *
 * Keys, under a configurable prefix P:
 *   P + 'schema'      schema version (string)
 *   P + 'seq'         counter handing out replay positions (INCRBY, monotonic across restarts)
 *   P + 'order'       sorted set: member = job key, score = its position
 *   P + 'job:' + key  hash: function, unique, data, priority, when, reducer
 * A batch is one INCRBY plus one MULTI/EXEC, so a job's hash and its order entry appear and
 * disappear together. An acknowledged add is as durable as the Redis server's own persistence
 * (appendonly yes with appendfsync everysec or always); that is the operator's setting.
 *
 * Outages: commands are never queued while disconnected (enableOfflineQueue off) and never
 * resent after a reconnect, so an add either fails now or was executed now; ioredis reconnects
 * by itself and 'ready' reports recovery.
 */
import { Redis } from 'ioredis';
import { BatchedStore, type BatchedStoreOptions } from './batched-store.js';
import { StoreError, StoreErrorCode, unavailable } from './errors.js';
import { checkReplayedJob, checkSchemaVersion, columnBytes, integerOf, nameBytes, textOf } from './validate.js';
import type { Priority, StoreKey, StoredJob } from './types.js';

export const REDIS_SCHEMA_VERSION = 1;

export interface RedisStoreOptions extends BatchedStoreOptions {
  host?: string;
  port?: number;
  /** A Redis 6 ACL user; default none (the `default` user, AUTH with the password alone). */
  username?: string;
  password?: string;
  db?: number;
  /** gearmand's --redis-prefix; ours holds a different layout, so the default differs. */
  keyPrefix?: string;
}

const REPLAY_CHUNK = 1000;

export class RedisStore extends BatchedStore {
  readonly name = 'redis';
  readonly keyPrefix: string;
  private readonly redis: Redis;
  private lastError?: Error;
  private closing = false;

  constructor(options: RedisStoreOptions) {
    super(options);
    this.keyPrefix = options.keyPrefix ?? 'gearport:';
    this.redis = new Redis({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 6379,
      username: options.username,
      password: options.password,
      db: options.db ?? 0,
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      // Fail in-flight commands as soon as the connection drops instead of retrying them.
      maxRetriesPerRequest: 0,
      connectTimeout: options.timeoutMs,
      commandTimeout: options.timeoutMs,
      // gearmand reconnects at most once per second (spec 4.5, #45); start faster, cap at 1 s.
      retryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
      connectionName: 'gearport-store',
    });
    this.redis.on('error', (error: Error) => {
      this.lastError = error;
    });
    this.redis.on('close', () => {
      if (this.closing) return;
      this.reportHealth(false, unavailable(this.name, 'connection lost', this.lastError ?? new Error('connection closed')));
    });
    this.redis.on('ready', () => this.reportHealth(true));
  }

  private key(suffix: string): string {
    return this.keyPrefix + suffix;
  }

  private jobKey(key: StoreKey): string {
    return this.key(`job:${key}`);
  }

  protected async openBackend(): Promise<StoredJob[]> {
    try {
      await this.redis.connect();
    } catch (error) {
      throw unavailable(this.name, `cannot connect to ${this.redis.options.host}:${this.redis.options.port}`, this.lastError ?? error);
    }
    await this.checkOrCreateSchema();
    return this.replay();
  }

  protected async writeBatch(adds: StoredJob[], removes: StoreKey[]): Promise<void> {
    const order = this.key('order');
    const transaction = this.redis.multi();
    if (adds.length > 0) {
      const last = await this.redis.incrby(this.key('seq'), adds.length);
      let position = last - adds.length;
      // Every job's place goes in one ZADD: ioredis's cost per command, not Redis, bounded the
      // rate, and a ZADD per job was half the commands.
      const places: Array<number | string> = [];
      for (const job of adds) {
        position += 1;
        transaction.hset(
          this.jobKey(job.key),
          'function',
          nameBytes(job.functionName),
          'unique',
          columnBytes(job.unique),
          'data',
          job.data,
          'priority',
          String(job.priority),
          'when',
          String(job.when),
          'reducer',
          columnBytes(job.reducer),
        );
        places.push(position, job.key);
      }
      // NX: re-adding a stored key keeps its place, as the SQL stores' upsert does.
      transaction.zadd(order, 'NX', ...places);
    }
    if (removes.length > 0) {
      transaction.del(...removes.map((key) => this.jobKey(key)));
      transaction.zrem(order, ...removes);
    }
    const results = await transaction.exec();
    if (!results) throw new Error('transaction aborted');
    for (const [error] of results) if (error) throw error;
  }

  protected override async probe(): Promise<void> {
    await this.redis.ping();
  }

  protected async closeBackend(): Promise<void> {
    this.closing = true;
    if (this.redis.status === 'ready') {
      await this.redis.quit().catch(() => this.redis.disconnect());
    } else {
      this.redis.disconnect();
    }
  }

  private async checkOrCreateSchema(): Promise<void> {
    const stored = await this.redis.get(this.key('schema'));
    if (stored === null) {
      const existing = await this.redis.exists(this.key('order'), this.key('seq'));
      if (existing > 0) {
        throw new StoreError(StoreErrorCode.CORRUPT, this.name, `keys under prefix ${JSON.stringify(this.keyPrefix)} exist but ${this.key('schema')} is missing`);
      }
      await this.redis.set(this.key('schema'), String(REDIS_SCHEMA_VERSION), 'NX');
      return;
    }
    checkSchemaVersion(this.name, stored, REDIS_SCHEMA_VERSION, `prefix ${JSON.stringify(this.keyPrefix)}`, this.key('schema'));
  }

  private async replay(): Promise<StoredJob[]> {
    const jobs: StoredJob[] = [];
    const order = this.key('order');
    for (let start = 0; ; start += REPLAY_CHUNK) {
      const keys = await this.redis.zrange(order, start, start + REPLAY_CHUNK - 1);
      if (keys.length === 0) return jobs;
      const pipeline = this.redis.pipeline();
      for (const key of keys) pipeline.hgetallBuffer(this.jobKey(key));
      const results = (await pipeline.exec()) ?? [];
      keys.forEach((key, index) => {
        const [error, hash] = results[index] ?? [new Error('no reply')];
        if (error) throw error;
        jobs.push(this.toJob(key, hash as Record<string, Buffer>));
      });
      if (keys.length < REPLAY_CHUNK) return jobs;
    }
  }

  private toJob(key: string, hash: Record<string, Buffer>): StoredJob {
    const where = `job ${this.jobKey(key)}`;
    if (Object.keys(hash).length === 0) {
      throw new StoreError(StoreErrorCode.CORRUPT, this.name, `${where} is listed in ${this.key('order')} but its hash is missing; fix or delete it, then start again`);
    }
    const text = (field: string): string | undefined => (hash[field] ? textOf(hash[field]) : undefined);
    return checkReplayedJob(this.name, where, {
      key,
      functionName: text('function'),
      unique: text('unique'),
      data: hash.data,
      priority: integerOf(hash.priority) as Priority,
      when: integerOf(hash.when),
      reducer: text('reducer'),
    });
  }
}
