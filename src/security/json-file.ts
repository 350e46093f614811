/** Reading the JSON settings files of src/security (tokens, client rights): one error shape for both. */
import { readFileSync } from 'node:fs';

/** Parse `text` as JSON; `fail` builds the file's own error class from the message. */
export function parseJsonText(text: string, source: string, fail: (message: string) => Error): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw fail(`${source}: not valid JSON: ${(err as Error).message}`);
  }
}

/** Read a settings file; `what` names it in the error ("the tokens file"). */
export function readSettingsFile(file: string, what: string, fail: (message: string) => Error): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw fail(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}
