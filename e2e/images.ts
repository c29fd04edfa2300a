/**
 * Checks the images `make images` built, as a cluster would run them (e2e/lib/images.ts), and
 * prints each image's size. Exits non-zero when a check fails. `make e2e` runs it first.
 *
 * Usage: npx tsx e2e/images.ts [--tag dev]
 */
import { parseArgs } from "node:util";
import { checkImages } from "./lib/images.js";

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { tag: { type: "string", default: "dev" } } });
  const { results, sizes } = await checkImages(values.tag);
  for (const result of results) {
    process.stdout.write(`${result.ok ? "ok  " : "FAIL"} ${result.image} ${result.check}: ${result.detail}\n`);
  }
  for (const [image, bytes] of sizes) process.stdout.write(`size ${image} ${(bytes / 1e6).toFixed(0)} MB\n`);
  const failed = results.filter((result) => !result.ok).length;
  process.stdout.write(`images: ${results.length - failed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

process.exit(await main());
