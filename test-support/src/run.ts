/**
 * Identity of the current test run. `scripts/test.sh` sets `TENANCY_TEST_RUN`; every container,
 * network and volume a test creates carries {@link TEST_RUN_LABEL} with it, so the run can remove
 * all of them at the end, even after a crash. Test-only code reads process.env here by design.
 */
export const TEST_RUN_LABEL = 'dev.tenancy.test-run';

/** The run id: the script's, or one for a test file started by hand. */
export const testRunId: string = process.env.TENANCY_TEST_RUN ?? `adhoc-${process.pid}`;

/** Labels to put on every Docker object a test creates. */
export function testLabels(extra: Record<string, string> = {}): Record<string, string> {
  return { [TEST_RUN_LABEL]: testRunId, ...extra };
}

/** Image tags the test run built (see scripts/build-images.sh). */
export const testImages = {
  nodeBase: process.env.NODE_BASE_IMAGE ?? 'tenancy/node-base:local',
  tenant: process.env.TENANT_IMAGE ?? 'tenancy/tenant:local',
  /** The offline stack's disk helper (TENANT_DISK_HELPER_IMAGE). */
  diskHelper: process.env.DISK_HELPER_LOCAL_IMAGE ?? 'tenancy/disk-helper:local',
} as const;

/** A short unique suffix for names inside one run. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
