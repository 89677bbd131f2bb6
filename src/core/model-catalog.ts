/**
 * Models whose versions are decided outside the repository folder (the registry): which
 * versions to load, from which files, and which aliases point at them. The lifecycle loads
 * them; an alias takes traffic only once its version is READY, so moving an alias is a hot
 * swap and a version that fails to load never takes traffic.
 */

/** One version a catalog wants loaded, from its own files. */
export interface CatalogVersion {
  version: string;
  /** The ONNX file. */
  modelPath: string;
  /** The version's folder (what steps see as the model's folder: config-relative files live here). */
  dir: string;
  /** The version's config.yaml text, if it has one. */
  configText: string | undefined;
}

/** A model a catalog serves under its name (it then wins over a repository folder of that name). */
export interface CatalogModel {
  name: string;
  /** alias -> version number, as the catalog has them. */
  aliases: Record<string, string>;
  /** The alias a request naming no version follows (`champion` by default). */
  servingAlias: string;
  /** Versions to load (those an alias points at and that can be served). */
  versions: CatalogVersion[];
  /** Versions an alias points at that cannot be served, and why. */
  refused: { version: string; reason: string }[];
}

export interface ModelCatalog {
  readonly name: string;
  /** What must be served now. */
  models(): CatalogModel[];
  /** Calls `listener` when models() may have changed; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  /** Told when a version it wanted failed to load (so it can record it, e.g. in an audit log). */
  versionFailed?(model: string, version: string, reason: string): void;
}
