import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/** The lock file records each workspace's declared dependencies; `npm install` rewrites it. */
const root = new URL("../../", import.meta.url);
const readJson = (path: string) => JSON.parse(readFileSync(new URL(path, root), "utf8")) as Record<string, unknown>;

interface Manifest {
  workspaces?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}
interface LockEntry extends Manifest {
  version?: string;
  /** A workspace package, linked rather than installed. */
  link?: boolean;
}

describe("package-lock.json", () => {
  const manifest = readJson("package.json") as Manifest;
  const lock = readJson("package-lock.json") as { packages: Record<string, LockEntry> };

  it.each(["", ...(manifest.workspaces ?? [])])(
    "is current for %s: the same declared dependencies, each one resolved",
    (workspace) => {
      const declared = readJson(workspace ? `${workspace}/package.json` : "package.json") as Manifest;
      const locked = lock.packages[workspace];
      expect(locked, `lock entry of ${workspace || "the root"}`).toBeDefined();
      expect(locked!.dependencies ?? {}).toEqual(declared.dependencies ?? {});
      expect(locked!.devDependencies ?? {}).toEqual(declared.devDependencies ?? {});
      for (const name of Object.keys({ ...declared.dependencies, ...declared.devDependencies })) {
        const resolved =
          lock.packages[`${workspace ? `${workspace}/` : ""}node_modules/${name}`] ??
          lock.packages[`node_modules/${name}`];
        expect(resolved?.version ?? resolved?.link, `${name} of ${workspace || "the root"}`).toBeTruthy();
      }
    },
  );
});
