/** Writes the generated monitoring files (see generated.ts). Run: npx tsx monitoring/src/generate.ts */
import { writeFileSync } from "node:fs";
import { MONITORING_DIR, generatedFiles } from "./generated.js";

for (const [path, content] of await generatedFiles()) {
  writeFileSync(`${MONITORING_DIR}${path}`, content);
  process.stdout.write(`wrote ${path.startsWith("../") ? path.slice(3) : `monitoring/${path}`}\n`);
}
