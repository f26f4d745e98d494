// The benchmark's report: one table across sizes, the per-publication detail, and the targets
// of the issue, each marked met or missed from the numbers alone.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AptlyResult } from "./aptly";
import type { DynamoCounts } from "./counters";
import type { OursResult, Split } from "./ours";
import type { RepreproResult } from "./reprepro";

export interface BenchResults {
  readonly startedAt: string;
  finishedAt?: string;
  readonly environment: Record<string, string | number>;
  readonly options: { sizes: number[]; toolSizes: number[]; quick: boolean };
  debs?: { count: number; ms: number; perDebMs: number };
  readonly ours: OursResult[];
  readonly aptly: AptlyResult[];
  readonly reprepro: RepreproResult[];
  readonly notes: string[];
  targets?: Target[];
}

export interface Target {
  readonly name: string;
  readonly value: string;
  readonly goal: string;
  /** undefined: could not be evaluated (a size or a tool was not measured). */
  readonly met: boolean | undefined;
  readonly detail?: string;
}

export function formatMs(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return "-";
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

const fmtN = (n: number): string => n.toLocaleString("en-US");
const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

const READ_OPS = ["GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"];

function dynamoSummary(counts: DynamoCounts): string {
  return Object.entries(counts)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([op, c]) => `${op} ${c.requests}${READ_OPS.includes(op) ? ` (${c.items} items)` : ""}`)
    .join(", ");
}

function readStats(counts: DynamoCounts): { requests: number; items: number; rcu: number } {
  let requests = 0;
  let items = 0;
  let rcu = 0;
  for (const op of READ_OPS) {
    requests += counts[op]?.requests ?? 0;
    items += counts[op]?.items ?? 0;
    rcu += counts[op]?.capacityUnits ?? 0;
  }
  return { requests, items, rcu };
}

const s3Summary = (r: Record<string, number>): string =>
  `${sum(r)} (${Object.entries(r)
    .map(([op, n]) => `${op} ${n}`)
    .join(", ")})`;

const splitSummary = (s: Split): string =>
  Object.entries(s)
    .map(([k, ms]) => `${k} ${formatMs(ms)}`)
    .join(", ");

export const S3_REQUEST_LIMIT = 12;

export function evaluateTargets(r: BenchResults): Target[] {
  const ours = (n: number) => r.ours.find((o) => o.n === n);
  const aptly = (n: number) => r.aptly.find((a) => a.n === n);
  const targets: Target[] = [];

  const o10 = ours(10_000);
  const a10 = aptly(10_000);
  if (o10 && a10) {
    const ratio = o10.publish.medianMs / a10.oneRecord.totalMs;
    targets.push({
      name: "one-record publish at 10,000: ours / aptly (repo add + publish update)",
      value: `${ratio.toFixed(3)} (${formatMs(o10.publish.medianMs)} / ${formatMs(a10.oneRecord.totalMs)})`,
      goal: "<= 0.25",
      met: ratio <= 0.25,
      detail: `end to end through the stream poller: ${formatMs(o10.e2e.medianMs)} = ${(o10.e2e.medianMs / a10.oneRecord.totalMs).toFixed(3)} of aptly`,
    });
  } else {
    targets.push({
      name: "one-record publish at 10,000: ours / aptly",
      value: "not measured",
      goal: "<= 0.25",
      met: undefined,
    });
  }

  const sizes = [...r.ours].sort((a, b) => a.n - b.n);
  if (sizes.length >= 2) {
    const first = sizes[0] as OursResult;
    const reads = sizes.map((o) => readStats(o.publish.typical.dynamo));
    const constantRequests = reads.every(
      (x) => x.requests === reads[0]?.requests && x.items === reads[0]?.items,
    );
    const growth = sizes
      .map(
        (o) =>
          `${fmtN(o.n)}: ${formatMs(o.publish.medianMs)} (x${(o.publish.medianMs / first.publish.medianMs).toFixed(2)})`,
      )
      .join(", ");
    targets.push({
      name: `growth of our one-record publish, ${sizes.map((o) => fmtN(o.n)).join(" -> ")}`,
      value: growth,
      goal: "DynamoDB reads constant; time grows only with index hashing/writing",
      met: constantRequests,
      detail: `DynamoDB read requests/items per publish: ${reads.map((x) => `${x.requests}/${x.items}`).join(", ")}; read capacity units (DynamoDB Local's ConsumedCapacity): ${reads.map((x) => x.rcu).join(", ")}; where the time goes (s3 read / s3 write / compute): ${sizes.map((o) => `${fmtN(o.n)}: ${formatMs(o.publish.typical.split["s3 read"])} / ${formatMs(o.publish.typical.split["s3 write"])} / ${formatMs(o.publish.typical.split["compute (splice, compress, hash, sign)"])}`).join("; ")}`,
    });
  }

  if (o10 && a10) {
    const ratio = o10.rebuild.ms / a10.fullMs;
    targets.push({
      name: "full rebuild at 10,000: ours / aptly (repo add + publish)",
      value: `${ratio.toFixed(3)} (${formatMs(o10.rebuild.ms)} / ${formatMs(a10.fullMs)})`,
      goal: "<= 1.0",
      met: ratio <= 1,
      detail: `our rebuild: ${splitSummary(o10.rebuild.split)}`,
    });
  } else {
    targets.push({
      name: "full rebuild at 10,000: ours / aptly",
      value: "not measured",
      goal: "<= 1.0",
      met: undefined,
    });
  }

  if (sizes.length > 0) {
    const amd64 = Math.max(...sizes.map((o) => sum(o.publish.typical.s3)));
    const all = Math.max(...sizes.map((o) => sum(o.publishAll.s3)));
    targets.push({
      name: "S3 requests per one-record publish (an amd64 record: one index)",
      value: String(amd64),
      goal: `<= ${S3_REQUEST_LIMIT}`,
      met: amd64 <= S3_REQUEST_LIMIT,
    });
    targets.push({
      name: "S3 requests per one-record publish (an Architecture: all record: every index)",
      value: String(all),
      goal: `<= ${S3_REQUEST_LIMIT}`,
      met: all <= S3_REQUEST_LIMIT,
      detail: "an all package enters the index of each architecture (here amd64 and arm64)",
    });
  }
  return targets;
}

function table(rows: (string | undefined)[][], sizes: readonly number[]): string {
  const header = ["", ...sizes.map(fmtN)];
  const all = [header, ...rows.map((r) => r.map((c) => c ?? "-"))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all
    .map((r) =>
      r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  "),
    )
    .join("\n");
}

export function renderReport(r: BenchResults): string {
  const sizes = r.options.sizes;
  const ours = (n: number) => r.ours.find((o) => o.n === n);
  const aptly = (n: number) => r.aptly.find((a) => a.n === n);
  const rep = (n: number) => r.reprepro.find((a) => a.n === n);
  const row = (label: string, cell: (n: number) => string | undefined) => [
    label,
    ...sizes.map(cell),
  ];
  const out: string[] = [];
  out.push(
    `Publishing benchmark (${Object.entries(r.environment)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")})`,
    "",
  );
  out.push(
    table(
      [
        row("ours: load N records (BatchWriteItem)", (n) => formatMs(ours(n)?.loadMs)),
        row("ours: upload N pool objects (PutObject, 8 in flight)", (n) =>
          formatMs(ours(n)?.poolMs),
        ),
        row("ours: full rebuild (rebuild, root: false)", (n) => formatMs(ours(n)?.rebuild.ms)),
        row("ours: one-record publishChanges (median of 5)", (n) =>
          formatMs(ours(n)?.publish.medianMs),
        ),
        row("ours: put-item -> new InRelease via stream (median of 3)", (n) =>
          formatMs(ours(n)?.e2e.medianMs),
        ),
        row("ours: one-record publish, Architecture: all", (n) => formatMs(ours(n)?.publishAll.ms)),
        row("ours: plain index paths -> InRelease (typical / back-to-back)", (n) => {
          const o = ours(n);
          return o
            ? `${formatMs(o.publish.typical.windowMs)} / ${formatMs(o.backToBack.windowMs)}`
            : undefined;
        }),
        row("ours: S3 requests, one-record publish", (n) => {
          const o = ours(n);
          return o ? String(sum(o.publish.typical.s3)) : undefined;
        }),
        row("ours: S3 requests, one `all` record", (n) => {
          const o = ours(n);
          return o ? String(sum(o.publishAll.s3)) : undefined;
        }),
        row("ours: DynamoDB requests, one-record publish", (n) => {
          const o = ours(n);
          return o ? String(sum(mapValues(o.publish.typical.dynamo))) : undefined;
        }),
        row("ours: binary-amd64 Packages / .gz / .xz (KiB)", (n) => {
          const o = ours(n);
          return o
            ? `${(o.index.raw / 1024).toFixed(0)}/${(o.index.gz / 1024).toFixed(0)}/${(o.index.xz / 1024).toFixed(0)}`
            : undefined;
        }),
        row("aptly: repo add N", (n) => formatMs(aptly(n)?.repoAddMs)),
        row("aptly: publish repo", (n) => formatMs(aptly(n)?.publishMs)),
        row("aptly: full (add + publish)", (n) => formatMs(aptly(n)?.fullMs)),
        row("aptly: repo add 1 + publish update (median of 3)", (n) =>
          formatMs(aptly(n)?.oneRecord.totalMs),
        ),
        row("reprepro: includedeb N (batches of 1000)", (n) => formatMs(rep(n)?.includeMs)),
        row("reprepro: export", (n) => formatMs(rep(n)?.exportMs)),
        row("reprepro: full (includedeb + export)", (n) => formatMs(rep(n)?.fullMs)),
        row("reprepro: includedeb 1 + export (median of 3)", (n) =>
          formatMs(rep(n)?.oneRecord.totalMs),
        ),
        row("ratio one-record: ours / aptly", (n) =>
          ratio(ours(n)?.publish.medianMs, aptly(n)?.oneRecord.totalMs),
        ),
        row("ratio one-record: ours / reprepro", (n) =>
          ratio(ours(n)?.publish.medianMs, rep(n)?.oneRecord.totalMs),
        ),
        row("ratio full rebuild: ours / aptly", (n) =>
          ratio(ours(n)?.rebuild.ms, aptly(n)?.fullMs),
        ),
        row("ratio full rebuild: ours / reprepro", (n) =>
          ratio(ours(n)?.rebuild.ms, rep(n)?.fullMs),
        ),
      ],
      sizes,
    ),
  );
  out.push("", "Detail of our publications (DynamoDB: requests by operation; S3: by operation):");
  for (const o of r.ours) {
    const p = o.publish.typical;
    out.push(
      `  N=${fmtN(o.n)}`,
      `    one-record publish samples: ${o.publish.samples.map((s) => formatMs(s.ms)).join(", ")}`,
      `      time split (typical): ${splitSummary(p.split)}; signing alone ${formatMs(o.signMs)}`,
      `      DynamoDB: ${dynamoSummary(p.dynamo)}`,
      `      S3: ${s3Summary(p.s3)}${sum(p.s3) > S3_REQUEST_LIMIT ? `  <-- FLAG: more than ${S3_REQUEST_LIMIT}` : ""}`,
      `    Architecture: all record: ${formatMs(o.publishAll.ms)}; S3 ${s3Summary(o.publishAll.s3)}${sum(o.publishAll.s3) > S3_REQUEST_LIMIT ? `  <-- FLAG: more than ${S3_REQUEST_LIMIT}` : ""}`,
      `    back-to-back publish (same second as the previous InRelease): ${formatMs(o.backToBack.ms)}; split: ${splitSummary(o.backToBack.split)}`,
      `    window from the first plain index path to the new InRelease: ${o.publish.samples.map((s) => formatMs(s.windowMs)).join(", ")}; back-to-back ${formatMs(o.backToBack.windowMs)}`,
      `    end to end samples: ${o.e2e.samplesMs.map(formatMs).join(", ")}; of which put -> handler start: ${o.e2e.parts.map((p) => formatMs(p.deliveryMs)).join(", ")}; handler: ${o.e2e.parts.map((p) => formatMs(p.handlerMs)).join(", ")} (poller: batch ${o.e2e.poller.batchSize}, window ${o.e2e.poller.batchWindowMs} ms, poll every ${o.e2e.poller.pollIntervalMs} ms)`,
      `    full rebuild: ${formatMs(o.rebuild.ms)}; split: ${splitSummary(o.rebuild.split)}`,
      `      DynamoDB: ${dynamoSummary(o.rebuild.dynamo)}; S3: ${s3Summary(o.rebuild.s3)}`,
    );
  }
  if (r.debs) {
    out.push(
      "",
      `.debs for aptly/reprepro: ${fmtN(r.debs.count)} built with writeDeb in ${formatMs(r.debs.ms)} (${r.debs.perDebMs.toFixed(2)} ms each)`,
    );
  }
  if (r.notes.length > 0) out.push("", "Notes:", ...r.notes.map((n) => `  - ${n}`));
  out.push("", "Targets:");
  for (const t of r.targets ?? evaluateTargets(r)) {
    const mark = t.met === undefined ? "N/A   " : t.met ? "MET   " : "MISSED";
    out.push(`  [${mark}] ${t.name}: ${t.value} (goal ${t.goal})`);
    if (t.detail) out.push(`           ${t.detail}`);
  }
  return out.join("\n");
}

const mapValues = (counts: DynamoCounts): Record<string, number> =>
  Object.fromEntries(Object.entries(counts).map(([k, c]) => [k, c.requests]));

function ratio(a: number | undefined, b: number | undefined): string | undefined {
  if (a === undefined || b === undefined || b === 0) return undefined;
  return a / b >= 10 ? (a / b).toFixed(1) : (a / b).toFixed(3);
}

/** Writes `results-<timestamp>.json` in `dir`; returns its path. */
export async function writeResults(dir: string, r: BenchResults): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `results-${r.startedAt.replace(/[:.]/g, "-")}.json`);
  await writeFile(file, `${JSON.stringify(r, null, 2)}\n`);
  return file;
}
