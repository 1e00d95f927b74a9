import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { errors } from './errors.js';

/** Resource limits and network policy of one plan. */
export interface PlanLimits {
  /** Memory limit in bytes; swap is set equal to it, so the container gets no swap. */
  memoryBytes: number;
  /** CPU limit in billionths of a CPU (Docker's NanoCpus). */
  nanoCpus: number;
  /** Most processes and threads the container may have. */
  pids: number;
  /** May the tenant open connections to the internet? Off: its network is internal. */
  egress: boolean;
  /** Size of the /tmp tmpfs in bytes. */
  tmpBytes: number;
  /**
   * Disk quota in bytes: the size of the tenant's own filesystem that holds both its volumes
   * (files and history), so its writes past it fail with ENOSPC (see runtime/tenant-disks.ts).
   */
  diskBytes: number;
}

const PlanInput = Type.Object(
  {
    memoryMb: Type.Optional(Type.Integer({ minimum: 64 })),
    cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 64 })),
    pids: Type.Optional(Type.Integer({ minimum: 16 })),
    egress: Type.Optional(Type.Boolean()),
    tmpMb: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
    // ext4 needs a few MiB for itself; below 32 MiB a tenant would have almost nothing left.
    diskMb: Type.Optional(Type.Integer({ minimum: 32, maximum: 16 * 1024 ** 2 })),
  },
  { additionalProperties: false },
);
const PlanTableInput = Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$' }), PlanInput, {
  additionalProperties: false,
});
type PlanInput = Static<typeof PlanInput>;

/** The default plan: the hardening baseline every tenant gets unless its plan says otherwise. */
export const DEFAULT_PLAN_NAME = 'free';
export const DEFAULT_PLAN: Readonly<PlanLimits> = Object.freeze({
  memoryBytes: 4 * 1024 ** 3,
  nanoCpus: 2_000_000_000,
  pids: 512,
  egress: false,
  tmpBytes: 64 * 1024 ** 2,
  diskBytes: 1024 ** 3,
});

/** Plan name → limits. Unknown plan names fall back to the default plan. */
export interface PlanTable {
  limitsFor(plan: string): Readonly<PlanLimits>;
  has(plan: string): boolean;
  /** Names of the plans that grant egress (the supervisor must be able to filter it). */
  withEgress(): string[];
}

/** Builds the plan table from the PLANS JSON (empty: only the default plan). */
export function createPlanTable(json: string): PlanTable {
  const table = new Map<string, Readonly<PlanLimits>>([[DEFAULT_PLAN_NAME, DEFAULT_PLAN]]);
  if (json.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (err) {
      throw errors.badRequest(`PLANS is not valid JSON: ${(err as Error).message}`);
    }
    if (!Value.Check(PlanTableInput, parsed)) {
      const first = [...Value.Errors(PlanTableInput, parsed)][0];
      throw errors.badRequest(`PLANS is invalid at ${first?.path || '/'}: ${first?.message ?? 'unknown error'}`);
    }
    for (const [name, input] of Object.entries(parsed)) table.set(name, Object.freeze(toLimits(input)));
  }
  return {
    limitsFor: (plan) => table.get(plan) ?? table.get(DEFAULT_PLAN_NAME) ?? DEFAULT_PLAN,
    has: (plan) => table.has(plan),
    withEgress: () => [...table].filter(([, limits]) => limits.egress).map(([name]) => name),
  };
}

function toLimits(input: PlanInput): PlanLimits {
  return {
    memoryBytes: input.memoryMb === undefined ? DEFAULT_PLAN.memoryBytes : input.memoryMb * 1024 ** 2,
    nanoCpus: input.cpus === undefined ? DEFAULT_PLAN.nanoCpus : Math.round(input.cpus * 1e9),
    pids: input.pids ?? DEFAULT_PLAN.pids,
    egress: input.egress ?? DEFAULT_PLAN.egress,
    tmpBytes: input.tmpMb === undefined ? DEFAULT_PLAN.tmpBytes : input.tmpMb * 1024 ** 2,
    diskBytes: input.diskMb === undefined ? DEFAULT_PLAN.diskBytes : input.diskMb * 1024 ** 2,
  };
}
