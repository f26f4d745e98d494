// The rebuild: `{ "force_rebuild": true }` regenerates every index from the package table.
import * as v from "valibot";
import { logger, publisher } from "./resources";

const eventSchema = v.object({
  force_rebuild: v.literal(true, 'expected { "force_rebuild": true }'),
});

export async function handler(event: unknown) {
  const parsed = v.safeParse(eventSchema, event);
  if (!parsed.success) throw new Error(`rebuild: ${parsed.issues[0].message}`);
  const report = await (await publisher()).rebuild();
  logger.info(
    {
      published: report.published,
      invalid: report.invalid.length,
      heldBack: report.heldBack,
    },
    "rebuild finished",
  );
  return report;
}
