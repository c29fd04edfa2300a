/**
 * Include/exclude regexes from QUEUE_INCLUDE / QUEUE_EXCLUDE. A name set (a RabbitMQ queue name;
 * a JetStream stream and consumer name) is kept when no include is set or the include matches any
 * of the names, and no exclude matches any of them.
 */
export class NameFilter {
  constructor(
    readonly include?: RegExp,
    readonly exclude?: RegExp,
  ) {}

  static all(): NameFilter {
    return new NameFilter();
  }

  keeps(...names: string[]): boolean {
    const include = this.include;
    if (include && !names.some((name) => include.test(name))) return false;
    const exclude = this.exclude;
    if (exclude && names.some((name) => exclude.test(name))) return false;
    return true;
  }
}
