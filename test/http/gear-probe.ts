/** Ask the Gearman port what it knows: admin `status` and GET_STATUS, over raw sockets. */
import { connect } from 'node:net';
import { encodeRequest, FrameDecoder, PacketType as T } from '../../src/protocol/index.js';

export function adminCommand(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(line + '\n'));
    let text = '';
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (text.endsWith('.\n') || text.startsWith('ERR') || text.startsWith('OK')) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
  });
}

/** Function -> [total, running, workers] from admin `status`. */
export async function functionStatus(port: number): Promise<Map<string, [number, number, number]>> {
  const text = await adminCommand(port, 'status');
  const out = new Map<string, [number, number, number]>();
  for (const line of text.split('\n')) {
    const parts = line.split('\t');
    if (parts.length === 4) out.set(parts[0]!, [Number(parts[1]), Number(parts[2]), Number(parts[3])]);
  }
  return out;
}

/** GET_STATUS: [known, running, numerator, denominator]. */
export function getStatus(port: number, handle: string): Promise<[boolean, boolean, string, string]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(encodeRequest(T.GET_STATUS, [handle])));
    const decoder = new FrameDecoder();
    socket.on('data', (d) =>
      decoder.push(d, (f) => {
        if (f.kind !== 'packet' || f.type !== T.STATUS_RES) return;
        const [, known, running, num, den] = f.args.map((a) => a.toString('latin1'));
        socket.destroy();
        resolve([known === '1', running === '1', num!, den!]);
      }),
    );
    socket.on('error', reject);
  });
}

/** Poll until `check` is true (bounded): for state that changes with no event to await. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
