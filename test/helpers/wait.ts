import { firstValueFrom, timeout, filter, type Observable } from 'rxjs';

/** Arms a wait on the first value (matching `predicate`) that fails naming what stayed silent. */
export function next<T>(stream: Observable<T>, what: string, ms = 15_000, predicate: (value: T) => boolean = () => true): Promise<T> {
  return firstValueFrom(
    stream.pipe(
      filter(predicate),
      timeout({ first: ms, with: () => { throw new Error(`${what} did not happen within ${ms} ms`); } }),
    ),
  );
}

/** Resolves when `condition()` holds, polling; fails naming `what` after `ms`. */
export async function until(condition: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
