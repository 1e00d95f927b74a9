import type { WakePhase, WakeProgress } from '@tenancy/shared';

/** Share of the progress bar at which each phase begins. */
const PHASE_PERCENT: Readonly<Record<WakePhase, number>> = {
  queued: 0,
  creating: 10,
  starting: 40,
  'waiting-health': 60,
  ready: 100,
  failed: 100,
};

const PHASE_MESSAGE: Readonly<Record<WakePhase, string>> = {
  queued: 'waking your container',
  creating: 'preparing your container',
  starting: 'starting your container',
  'waiting-health': 'waiting for your app to answer',
  ready: 'ready',
  failed: 'your container could not be started',
};

export type ProgressListener = (event: WakeProgress) => void;

/**
 * The progress events of one wake. Late subscribers first receive the latest event, so a client
 * that connects mid-wake sees where it stands at once; after `ready` or `failed` nothing follows.
 */
export class WakeProgressChannel {
  private readonly listeners = new Set<ProgressListener>();
  private last: WakeProgress | undefined;

  constructor(private readonly startedAt: number) {}

  /** Emits a phase change; `message` and `code` override the defaults. */
  emit(
    phase: WakePhase,
    now: number,
    extra: { message?: string; code?: string; percent?: number; position?: number } = {},
  ): void {
    if (this.isFinished()) return;
    const event: WakeProgress = {
      phase,
      percent: extra.percent ?? PHASE_PERCENT[phase],
      message: extra.message ?? PHASE_MESSAGE[phase],
      elapsedMs: Math.max(0, Math.round(now - this.startedAt)),
      ...(extra.code ? { code: extra.code } : {}),
      ...(extra.position ? { position: extra.position } : {}),
    };
    this.last = event;
    for (const listener of this.listeners) listener(event);
    if (this.isFinished()) this.listeners.clear();
  }

  /** Listens until the wake ends; returns the function that stops listening. */
  subscribe(listener: ProgressListener): () => void {
    if (this.last) listener(this.last);
    if (this.isFinished()) return () => undefined;
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get latest(): WakeProgress | undefined {
    return this.last;
  }

  isFinished(): boolean {
    return this.last?.phase === 'ready' || this.last?.phase === 'failed';
  }
}

/** Progress within the health phase: creeps from 60 % towards 95 % as the budget is used. */
export function healthPercent(elapsedMs: number, budgetMs: number): number {
  const share = Math.min(1, Math.max(0, elapsedMs / Math.max(1, budgetMs)));
  return Math.round(60 + share * 35);
}
