/**
 * What SIGHUP reloads (the tokens file). Parts register here when they start, so cli.ts
 * needs no handle on them.
 */
export type Reloadable = { readonly name: string; reload(): string };

const reloadables = new Set<Reloadable>();

export function registerReloadable(item: Reloadable): () => void {
  reloadables.add(item);
  return () => reloadables.delete(item);
}

/** Reload everything; one outcome line per item (a failure keeps the old settings). */
export function reloadAll(): { name: string; ok: boolean; message: string }[] {
  return [...reloadables].map((item) => {
    try {
      return { name: item.name, ok: true, message: item.reload() };
    } catch (err) {
      return { name: item.name, ok: false, message: (err as Error).message };
    }
  });
}
