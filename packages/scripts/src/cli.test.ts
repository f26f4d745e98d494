import pino from "pino";
import { describe, expect, it } from "vitest";
import { progress, progressBar } from "./cli";

describe("progressBar", () => {
  it("shows counts, percentage, rate and what remains", () => {
    expect(progressBar("migrate", 12, 40, 6000, 10)).toBe(
      "migrate [###-------] 12/40 30% 2.0/s ETA 14s",
    );
    expect(progressBar("migrate", 40, 40, 125_000, 10)).toBe(
      "migrate [##########] 40/40 100% 0.3/s in 2m05s",
    );
    expect(progressBar("migrate", 0, 0, 0, 4)).toBe("migrate [####] 0/0 100% 0.0/s in 0s");
    const MiB = 1024 * 1024;
    expect(progressBar("import", 30 * MiB, 120 * MiB, 2000, 4, "bytes")).toBe(
      "import [#---] 30.0/120.0 MiB 25% 15.0 MiB/s ETA 6s",
    );
  });
});

function fakeStream(isTTY: boolean) {
  const written: string[] = [];
  const stream = {
    isTTY,
    write: (s: string) => written.push(s) > 0,
  } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "info" },
    { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { logger, lines };
}

describe("progress", () => {
  it("draws a bar in place on a terminal, and ends the line", () => {
    let t = 0;
    const { stream, written } = fakeStream(true);
    const { logger, lines } = capturingLogger();
    const p = progress(logger, "migrate", 3, { stream, now: () => t });
    for (let i = 0; i < 3; i++) {
      t += 1000;
      p.tick();
    }
    p.done();
    expect(lines).toEqual([]);
    expect(written.at(-2)).toBe(
      "\r\x1b[Kmigrate [########################] 3/3 100% 1.0/s in 3s\r",
    );
    expect(written.at(-1)).toBe("\n");
  });

  it("logs plain lines with counts and rate otherwise", () => {
    let t = 0;
    const { stream, written } = fakeStream(false);
    const { logger, lines } = capturingLogger();
    const p = progress(logger, "migrate", 5, { stream, every: 2, now: () => t });
    for (let i = 0; i < 5; i++) {
      t += 500;
      p.tick();
    }
    p.done();
    expect(written).toEqual([]);
    expect(lines.map((l) => l.msg)).toEqual([
      "migrate: 2/5 (40%), 2.0/s",
      "migrate: 4/5 (80%), 2.0/s",
      "migrate: 5/5 (100%), 2.0/s",
    ]);
    expect(lines[0]).toMatchObject({ progress: "migrate", done: 2, total: 5, perSecond: 2 });
  });
});
