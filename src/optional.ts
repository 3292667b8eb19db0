import { P2PError, P2PErrorCode } from './errors.js';

/**
 * Loads optional packages an entry needs only when it runs, so that a missing one is an
 * ERR_MISSING_DEPENDENCY naming it and the line that installs it, not Node's bare
 * ERR_MODULE_NOT_FOUND at import. `load` holds the literal `import()` (bundlers follow it);
 * `packages` are what it may miss. A package that is there but broken, or a missing package
 * not listed, fails as it is.
 */
export async function loadOptional<T>(entry: string, packages: readonly string[], load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (cause) {
    const missing = missingPackage(cause, packages);
    if (missing === undefined) throw cause;
    const message = `${entry} needs the package "${missing}", which is not installed: npm install ${missing}`;
    throw new P2PError(P2PErrorCode.MISSING_DEPENDENCY, message, { cause });
  }
}

/** The listed package Node (or a bundler's runtime) could not find, if that is what `error` says. */
function missingPackage(error: unknown, packages: readonly string[]): string | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  const text = typeof message === 'string' ? message : '';
  // Node: "Cannot find package 'ws' imported from …" (or "module"); longest first, so
  // "@socket.io/redis-adapter" is not taken for "socket.io".
  return [...packages].sort((a, b) => b.length - a.length).find((name) => text.includes(`'${name}'`) || text.includes(`"${name}"`));
}
