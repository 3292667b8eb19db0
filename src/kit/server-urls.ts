import { invalidOption } from '../mesh/options.js';

/**
 * Checks a transport's server option: one URL or a non-empty array of distinct ones, each with
 * one of `schemes` (e.g. ['ws', 'wss']). Returns the list; ERR_INVALID_OPTION naming `name`.
 */
export function serverUrls(value: unknown, name: string, schemes: readonly string[]): string[] {
  const list: readonly unknown[] = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  const shown = schemes.map((scheme) => `${scheme}://`).join(', ');
  if (list.length === 0) throw invalidOption(`\`${name}\` must be a URL (${shown}) or a non-empty array of them`);
  for (const item of list) {
    let scheme: string | undefined;
    try {
      scheme = typeof item === 'string' ? new URL(item).protocol.slice(0, -1) : undefined;
    } catch {
      scheme = undefined;
    }
    if (scheme === undefined || !schemes.includes(scheme)) throw invalidOption(`\`${name}\`: ${JSON.stringify(item)} is not a ${shown} URL`);
  }
  if (new Set(list).size !== list.length) throw invalidOption(`\`${name}\` lists a server twice`);
  return [...(list as string[])];
}
