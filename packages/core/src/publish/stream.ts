// The stream side of publishing: from a DynamoDB Streams batch (INSERT, MODIFY, REMOVE with
// both images) to the ids to publish, where they were and which pool files they named, and
// from a publication's outcome to Lambda's partial batch response.
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import type { Logger } from "pino";
import { itemToRecord } from "../record/dynamo";
import { isValidDistName } from "../record/policy";
import { isSafePoolPath, poolPath } from "../record/pool";
import type { Location } from "./entries";
import type { Publisher, PublishReport, Touch } from "./publisher";

type Image = Record<string, AttributeValue>;

export interface Defaults {
  readonly defaultSuite: string;
  readonly defaultComponent: string;
}

function locationOf(image: Image | undefined, defaults: Defaults): Location | undefined {
  if (image === undefined) return undefined;
  const name = (attr: string, fallback: string): string => {
    const value = image[attr]?.S;
    return value !== undefined && isValidDistName(value) ? value : fallback;
  };
  return {
    suite: name("suite", defaults.defaultSuite),
    component: name("component", defaults.defaultComponent),
  };
}

/**
 * The pool file an old image named: its `filename` (any item's, valid or not, when it is a
 * safe pool path), or where a build record's goes. Only a candidate for the pool sweep, which
 * checks the table and the indexes again before it deletes anything.
 */
function imageFile(image: Image, location: Location): string | undefined {
  const filename = image.filename?.S;
  if (filename !== undefined) return isSafePoolPath(filename) ? filename : undefined;
  const [name, version, architecture] = [
    image.package_name?.S,
    image.version?.S,
    image.architecture?.S,
  ];
  if (image.source?.S !== "build" || !name || !version || !architecture) return undefined;
  const path = poolPath(location.component, name, version, architecture);
  return isSafePoolPath(path) ? path : undefined;
}

export interface StreamTouches {
  readonly touches: Touch[];
  /** Stream records without a usable key: nothing can be published for them. */
  readonly unusable: { eventID: string; reason: string }[];
}

/** The ids a batch touches, with every location their old and new images name. */
export function touchesOf(
  records: readonly DynamoDBRecord[],
  defaults: Defaults,
  logger?: Logger,
): StreamTouches {
  const touches: Touch[] = [];
  const unusable: { eventID: string; reason: string }[] = [];
  for (const record of records) {
    const keys = record.dynamodb?.Keys as Image | undefined;
    const id = keys?.package_id?.S;
    if (id === undefined) {
      unusable.push({ eventID: record.eventID ?? "?", reason: "no package_id key" });
      continue;
    }
    const newImage = record.dynamodb?.NewImage as Image | undefined;
    const oldImage = record.dynamodb?.OldImage as Image | undefined;
    if (newImage !== undefined) {
      // Validated here for an early, precise report; the publisher re-reads the truth anyway.
      const parsed = itemToRecord(newImage);
      if (!parsed.ok) {
        logger?.warn(
          { key: parsed.key, event: record.eventName, issues: parsed.issues },
          "invalid record in the stream: not published until it is fixed",
        );
      }
    }
    const locations = [locationOf(oldImage, defaults), locationOf(newImage, defaults)].filter(
      (l): l is Location => l !== undefined,
    );
    if (locations.length === 0) locations.push(locationOf({}, defaults) as Location);
    const was = locationOf(oldImage, defaults);
    const file = was && imageFile(oldImage as Image, was);
    touches.push({
      id,
      locations,
      ...(file ? { files: [{ suite: was.suite, filename: file }] } : {}),
    });
  }
  return { touches, unusable };
}

/**
 * Publishes one stream batch. Failures are reported per record (Lambda retries from the
 * first one it is told about); invalid records are reported and skipped, never retried.
 */
export async function handleStreamBatch(
  publisher: Publisher,
  event: DynamoDBStreamEvent,
  defaults: Defaults,
  logger: Logger,
): Promise<DynamoDBBatchResponse & { report?: PublishReport }> {
  const { touches, unusable } = touchesOf(event.Records, defaults, logger);
  for (const u of unusable) logger.error(u, "stream record without a key: skipped");
  let report: PublishReport;
  try {
    report = await publisher.publishChanges(touches);
  } catch (error) {
    // Which record broke is unknown: publish each on its own, so the others still publish
    // and only the ones that fail again are reported (Lambda retries from the first of them).
    logger.error(
      { err: error, records: event.Records.length },
      "publication failed; publishing the batch's records one by one",
    );
    return publishOneByOne(publisher, event, touches, logger);
  }
  for (const i of report.invalid) logger.warn(i, "invalid record skipped");
  for (const h of report.heldBack) {
    logger.error(h, "held back: pool file missing or not the record's (published once it is)");
  }
  for (const f of report.failed) logger.error(f, "record failed to publish");
  return {
    batchItemFailures: failuresOf(
      event,
      report.failed.map((f) => f.id),
    ),
    report,
  };
}

/** The stream records of these ids, as Lambda's batch item failures. */
function failuresOf(
  event: DynamoDBStreamEvent,
  ids: Iterable<string>,
): { itemIdentifier: string }[] {
  const failed = new Set(ids);
  return event.Records.filter((r) => {
    const id = (r.dynamodb?.Keys as Image | undefined)?.package_id?.S;
    return id !== undefined && failed.has(id);
  }).flatMap((r) =>
    r.dynamodb?.SequenceNumber ? [{ itemIdentifier: r.dynamodb.SequenceNumber }] : [],
  );
}

async function publishOneByOne(
  publisher: Publisher,
  event: DynamoDBStreamEvent,
  touches: readonly Touch[],
  logger: Logger,
): Promise<DynamoDBBatchResponse> {
  const failed: string[] = [];
  for (const touch of touches) {
    try {
      const report = await publisher.publishChanges([touch]);
      failed.push(...report.failed.map((f) => f.id));
    } catch (error) {
      logger.error({ err: error, id: touch.id }, "record failed to publish; it will be retried");
      failed.push(touch.id);
    }
  }
  return { batchItemFailures: failuresOf(event, failed) };
}
