// Prints the plain closing line from vitest's JSON report and fails CI on any skipped test:
// an oracle test that did not run is a missing test, not a pass.
import { readFileSync } from "node:fs";

const report = JSON.parse(readFileSync(process.argv[2], "utf8"));
const passed = report.numPassedTests;
const failed = report.numFailedTests;
const skipped = report.numPendingTests + report.numTodoTests;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (skipped > 0) {
  for (const file of report.testResults) {
    for (const t of file.assertionResults) {
      if (t.status !== "passed" && t.status !== "failed")
        console.log(`skipped: ${file.name} > ${t.fullName}`);
    }
  }
  console.error("skipped tests fail CI: every oracle test must run here");
  process.exit(1);
}
if (failed > 0 || report.success !== true) process.exit(1);
