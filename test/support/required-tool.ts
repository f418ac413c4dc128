/**
 * Tests that need a tool from outside npm (Go, ghz) skip when it is missing on a developer's
 * machine, saying so. Under CI (CI=true) a missing tool fails the run instead: a suite that
 * passes because it skipped its interoperability and load-tool tests has not passed.
 */

/** The skip reason for node:test (`{ skip: needs(...) }`), or false when the tool is there. */
export function needs(tool: string, present: boolean, install: string, env: NodeJS.ProcessEnv = process.env): string | false {
  if (present) return false;
  const reason = `${tool} is not installed (${install})`;
  if (env.CI === 'true' || env.CI === '1') throw new Error(`${reason}; under CI=true that fails the run rather than skipping its tests`);
  return reason;
}
