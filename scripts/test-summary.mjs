// Prints the closing line CI reads ("tests: N passed, N failed") from vitest's JSON report, and
// fails when vitest did (a test file that cannot even load counts as a failure).
import { readFileSync } from "node:fs";

const report = JSON.parse(readFileSync(process.argv[2], "utf8"));
const failed = Math.max(
  report.numFailedTests,
  report.success ? 0 : 1,
  report.numFailedTests === 0 ? report.numFailedTestSuites : 0,
);
const skipped = report.numPendingTests + report.numTodoTests;
console.log(`tests: ${report.numPassedTests} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || report.numPassedTests === 0 ? 1 : 0);
