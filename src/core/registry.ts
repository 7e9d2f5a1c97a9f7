import { ConfigError, UnknownNameError } from "./errors.js";

/**
 * Named things of one kind (embedder factories, chat providers, plugins). A duplicate name throws;
 * an unknown name throws `UnknownNameError` listing the known ones, never `undefined`.
 *
 * @example
 * const embedders = new Registry<EmbedderFactory>("embedder");
 * embedders.register("hashing", (options) => new HashingEmbedder(options));
 * embedders.get("hashng"); // UnknownNameError: Unknown embedder "hashng". Known embedders: hashing.
 */
export class Registry<T> {
  private readonly items = new Map<string, T>();

  /** @param kind What the entries are, singular, used in error messages (e.g. `chat provider`). */
  constructor(readonly kind: string) {}

  /** Adds an entry; throws `ConfigError` when the name is taken (use `replace` to swap one). */
  register(name: string, item: T): this {
    if (this.items.has(name)) {
      throw new ConfigError(
        `A ${this.kind} named "${name}" is already registered. Pick another name, or call replace("${name}", ...) to swap it.`,
        name,
      );
    }
    this.items.set(name, item);
    return this;
  }

  /** Sets an entry whether or not the name is taken. */
  replace(name: string, item: T): this {
    this.items.set(name, item);
    return this;
  }

  /** The entry registered under `name`; throws `UnknownNameError` listing the known names. */
  get(name: string): T {
    const item = this.items.get(name);
    if (item === undefined) throw new UnknownNameError(this.kind, name, this.names());
    return item;
  }

  has(name: string): boolean {
    return this.items.has(name);
  }

  /** The registered names, sorted. */
  names(): string[] {
    return [...this.items.keys()].sort();
  }

  /** A copy, so a caller can add entries without changing the shared defaults. */
  clone(): Registry<T> {
    const copy = new Registry<T>(this.kind);
    for (const [name, item] of this.items) copy.items.set(name, item);
    return copy;
  }
}
