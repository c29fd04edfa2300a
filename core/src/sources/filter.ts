import { RE2JS } from "re2js";

/** Anything that says whether a name matches: a compiled QUEUE_INCLUDE, or a RegExp built in code. */
export interface NamePattern {
  /** The pattern as written. */
  readonly source: string;
  test(name: string): boolean;
}

/**
 * A pattern matched by RE2 (the re2js port): time linear in the name's length whatever the
 * pattern, so a pattern like `(a+)+$` cannot stall the event loop the way a backtracking engine
 * does on a long name. RE2 has no backreferences and no lookahead or lookbehind; compiling a
 * pattern that uses them throws.
 */
export class Re2Pattern implements NamePattern {
  private readonly compiled: RE2JS;

  constructor(readonly source: string) {
    this.compiled = RE2JS.compile(source);
  }

  /** True when the pattern matches anywhere in the name (as RegExp.test). */
  test(name: string): boolean {
    return this.compiled.test(name);
  }
}

/**
 * Past this many distinct names a pattern's cache starts over: names that keep changing (queues
 * created with random names) must not grow it forever, and 50,000 queues plus their streams and
 * consumers fit well below it.
 */
export const NAME_CACHE_LIMIT = 200_000;

/** A pattern with each name's answer remembered: names repeat from one poll to the next. */
class CachedPattern {
  private readonly answers = new Map<string, boolean>();

  constructor(readonly pattern: NamePattern) {}

  test(name: string): boolean {
    const known = this.answers.get(name);
    if (known !== undefined) return known;
    const answer = this.pattern.test(name);
    if (this.answers.size >= NAME_CACHE_LIMIT) this.answers.clear();
    this.answers.set(name, answer);
    return answer;
  }
}

/**
 * Include/exclude patterns from QUEUE_INCLUDE / QUEUE_EXCLUDE. A name set (a RabbitMQ queue name;
 * a JetStream stream and consumer name) is kept when no include is set or the include matches any
 * of the names, and no exclude matches any of them. Each pattern sees a name once: a stream's name
 * repeats for each of its consumers, and every name repeats at every poll.
 */
export class NameFilter {
  private readonly includeCache: CachedPattern | undefined;
  private readonly excludeCache: CachedPattern | undefined;

  constructor(
    readonly include?: NamePattern,
    readonly exclude?: NamePattern,
  ) {
    this.includeCache = include && new CachedPattern(include);
    this.excludeCache = exclude && new CachedPattern(exclude);
  }

  static all(): NameFilter {
    return new NameFilter();
  }

  /** Keeps exactly the given names (a worker's own queue or consumer). */
  static exactly(names: readonly string[]): NameFilter {
    const wanted = new Set(names);
    return new NameFilter({ source: [...wanted].join("|"), test: (name) => wanted.has(name) });
  }

  keeps(...names: string[]): boolean {
    const include = this.includeCache;
    if (include && !names.some((name) => include.test(name))) return false;
    const exclude = this.excludeCache;
    if (exclude && names.some((name) => exclude.test(name))) return false;
    return true;
  }
}
