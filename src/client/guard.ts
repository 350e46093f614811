import { AbortError, TimeoutError } from './errors.js';
import type { CallOptions } from './options.js';

/**
 * Run `work` under the caller's timeout and AbortSignal. `work` receives a signal that fires
 * (with the TimeoutError or AbortError as its reason) so it can release what it holds; the
 * returned promise rejects with that error as soon as it fires.
 */
export function guarded<T>(what: string, options: CallOptions, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { signal, timeoutMs } = options;
  if (signal?.aborted) return Promise.reject(new AbortError(what, signal.reason));
  if (signal === undefined && timeoutMs === undefined) return work(new AbortController().signal);
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const stop = (error: Error) => {
      cleanup();
      controller.abort(error);
      reject(error);
    };
    const onAbort = () => stop(new AbortError(what, signal?.reason));
    const cleanup = () => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    if (timeoutMs !== undefined) timer = setTimeout(() => stop(new TimeoutError(what, timeoutMs)), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    work(controller.signal).then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
  });
}

/** Resolve after `ms`, or reject with the signal's reason when it fires first. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
