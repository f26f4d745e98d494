import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cronMatches, rateMs } from "./poller";

describe("the local poller's schedules", () => {
  it("reads rate expressions as EventBridge does", () => {
    expect(rateMs("rate(1 hour)")).toBe(3_600_000);
    expect(rateMs("rate(15 minutes)")).toBe(900_000);
    expect(rateMs("rate(2 days)")).toBe(172_800_000);
    expect(rateMs("cron(0 * * * ? *)")).toBeUndefined();
  });

  it("fires a cron expression exactly at the minutes it names", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 0, max: 23 }),
        fc.date({ min: new Date("2020-01-01"), max: new Date("2030-01-01"), noInvalidDate: true }),
        (minute, hour, at) => {
          const expected = at.getUTCMinutes() === minute && at.getUTCHours() === hour;
          expect(cronMatches(`cron(${minute} ${hour} * * ? *)`, at)).toBe(expected);
          expect(cronMatches(`cron(*/15 * * * ? *)`, at)).toBe(at.getUTCMinutes() % 15 === 0);
        },
      ),
    );
  });
});
