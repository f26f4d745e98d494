// An in-memory package table with the RecordSource interface (model tests, benchmarks).
import { compareVersions } from "../debian/version";
import type { RecordSource } from "../publish/entries";
import {
  type PackageRecord,
  type PinnedFile,
  parseRecord,
  type RecordResult,
} from "../record/schema";

export class MemoryRecords implements RecordSource {
  readonly items = new Map<string, Record<string, unknown>>();
  reads = 0;

  async getMany(ids: readonly string[]): Promise<Map<string, RecordResult | undefined>> {
    this.reads += ids.length;
    return new Map(ids.map((id) => [id, this.parse(id)]));
  }

  async *scan(): AsyncIterable<RecordResult> {
    for (const id of [...this.items.keys()].sort()) {
      this.reads++;
      const result = this.parse(id);
      if (result) yield result;
    }
  }

  async versionsOf(name: string): Promise<PackageRecord[]> {
    const out: PackageRecord[] = [];
    for (const id of this.items.keys()) {
      const r = this.parse(id);
      if (r?.ok && r.record.package_name === name) out.push(r.record);
    }
    return out.sort((a, b) => compareVersions(a.version, b.version));
  }

  async pinFile(id: string, file: PinnedFile): Promise<"pinned" | "already"> {
    const item = this.items.get(id);
    if (item === undefined) throw new Error(`pinFile: no record ${id}`);
    if (item.sha256_hash === file.sha256_hash) return "already";
    if (item.sha256_hash !== undefined) throw new Error(`pinFile: ${id} is pinned to other bytes`);
    this.items.set(id, { ...item, ...file });
    return "pinned";
  }

  private parse(id: string): RecordResult | undefined {
    const item = this.items.get(id);
    return item === undefined ? undefined : parseRecord(structuredClone(item));
  }
}
