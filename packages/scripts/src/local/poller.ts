// The upstream poller in the local stage: the Lambda handler itself, invoked on each upstream
// package's schedule as EventBridge Scheduler would (a feed URL may be pointed at a local file
// server with the stage's `feed_urls`). `scripts/poll.ts` runs it at once.
import type { LoadedConfig } from "@app/core/config";
import type { Logger } from "@app/core/log";
import { sourceSettings } from "@app/core/sources";

const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

/** `rate(5 minutes)` in milliseconds; undefined for a cron expression. */
export function rateMs(schedule: string): number | undefined {
  const m = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(schedule);
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : undefined;
}

function fieldMatches(field: string, value: number): boolean {
  return field.split(",").some((part) => {
    if (part === "*" || part === "?") return true;
    const [range = "", step] = part.split("/");
    const [from, to] = range === "*" ? [0, Number.MAX_SAFE_INTEGER] : range.split("-").map(Number);
    const lo = from ?? 0;
    const hi = to ?? (step === undefined ? lo : Number.MAX_SAFE_INTEGER);
    return value >= lo && value <= hi && (value - lo) % Number(step ?? 1) === 0;
  });
}

/**
 * Whether a `cron(min hour day-of-month month day-of-week year)` expression fires at `at` (UTC,
 * to the minute). Numeric fields, lists, ranges and steps; names and L/W/# are not supported.
 */
export function cronMatches(schedule: string, at: Date): boolean {
  const m = /^cron\((.*)\)$/.exec(schedule);
  if (!m) return false;
  const [min, hour, dom, month, dow, year] = (m[1] ?? "").split(" ");
  return (
    fieldMatches(min ?? "", at.getUTCMinutes()) &&
    fieldMatches(hour ?? "", at.getUTCHours()) &&
    fieldMatches(dom ?? "", at.getUTCDate()) &&
    fieldMatches(month ?? "", at.getUTCMonth() + 1) &&
    fieldMatches(dow ?? "", at.getUTCDay() + 1) &&
    fieldMatches(year ?? "*", at.getUTCFullYear())
  );
}

export interface LocalPoller {
  stop(): Promise<void>;
}

/** Starts one timer per upstream package; a run never overlaps the previous one of its package. */
export async function startLocalPoller(config: LoadedConfig, logger: Logger): Promise<LocalPoller> {
  // The handler reads its settings as the Lambda does.
  process.env.POLLER_SETTINGS = JSON.stringify(sourceSettings(config));
  const { handler } = await import("../../../functions/src/poll");
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<unknown>>();
  for (const pkg of config.packages.values()) {
    if (pkg.source.type !== "upstream") continue;
    const schedule = pkg.source.schedule;
    let busy = false;
    const fire = () => {
      if (busy) return;
      busy = true;
      const run = handler({ package: pkg.name })
        .catch((error: unknown) =>
          logger.error({ package: pkg.name, err: String(error) }, "scheduled poll failed"),
        )
        .finally(() => {
          busy = false;
          running.delete(run);
        });
      running.add(run);
    };
    const every = rateMs(schedule);
    if (every !== undefined) {
      timers.push(setInterval(fire, every));
    } else {
      timers.push(
        setInterval(() => {
          if (cronMatches(schedule, new Date())) fire();
        }, UNIT_MS.minute),
      );
    }
    logger.info({ package: pkg.name, schedule }, "upstream poller scheduled");
  }
  return {
    async stop() {
      for (const t of timers) clearInterval(t);
      await Promise.allSettled([...running]);
    },
  };
}
