// Writing a file so that readers see the old content or the new, never a part: a temporary file in the
// same folder, fsync, rename over the target, fsync the folder. Mode (and owner) are set on the
// temporary file before any byte is written, so a private key is never readable by others, not even
// for a moment.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  readonly mode: number;
  /** Name of the temporary file in the target's folder; default a hidden random name. */
  readonly tempName?: string;
  readonly uid?: number;
  readonly gid?: number;
}

export async function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions) {
  const folder = dirname(path);
  const temp = join(folder, options.tempName ?? `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', options.mode);
  try {
    try {
      await handle.chmod(options.mode); // exact, whatever the umask
      if (options.uid !== undefined || options.gid !== undefined) {
        await handle.chown(options.uid ?? -1, options.gid ?? -1);
      }
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await syncFolder(folder);
}

/** Makes a folder entry durable (a rename or unlink in it); some platforms cannot, which is tolerated. */
export async function syncFolder(folder: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(folder, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF', 'EACCES'].includes(code)) throw error;
  } finally {
    await handle?.close();
  }
}
