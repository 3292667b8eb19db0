/**
 * @roamhq/wrtc can crash a process as it exits (SIGSEGV in `napi_reference_unref`, from an
 * RTCPeerConnection finalizer run inside `node::FreeEnvironment`): a closed connection that is
 * still uncollected at exit releases its data channels' references after Node already freed
 * them (measured here: 2 of 20 runs of test/nostr.handler.test.ts). Collecting garbage when the
 * event loop empties, while Node is fully alive, runs those finalizers in time. Installed once
 * per process (marked on `process`), only where this library loaded @roamhq/wrtc itself.
 */

const INSTALLED = Symbol.for('p2p-handlers.collectBeforeExit');

export async function collectPeerConnectionsBeforeExit(): Promise<void> {
  const host = process as NodeJS.Process & { [INSTALLED]?: true };
  if (host[INSTALLED]) return;
  host[INSTALLED] = true;
  // Through variables, so browser bundles never see Node's modules (this runs only in Node).
  const [v8Name, vmName] = ['node:v8', 'node:vm'];
  try {
    const [v8, vm] = (await Promise.all([import(/* @vite-ignore */ v8Name), import(/* @vite-ignore */ vmName)])) as [
      typeof import('node:v8'),
      typeof import('node:vm'),
    ];
    v8.setFlagsFromString('--expose-gc');
    const collect = vm.runInNewContext('gc') as () => void;
    process.on('beforeExit', () => collect());
  } catch {
    // A runtime without V8's flags (Bun, Deno): nothing to collect with, nothing to lose.
  }
}
