// What a handler needs from its environment: SST links (SST_RESOURCE_* variables, which the
// local stage sets the same way) and the publisher settings the stack serialises.
import { createLogger } from "@app/core/log";
import { createPublisher, type Publisher, parsePublisherSettings } from "@app/core/publish";
import { Resource } from "sst";

export const logger = createLogger("publisher");

let cached: Promise<Publisher> | undefined;

/** One publisher per Lambda container (signing keys are parsed once). */
export function publisher(): Promise<Publisher> {
  cached ??= createPublisher({
    packagesTable: Resource.Packages.name,
    stateTable: Resource.PublisherState.name,
    bucket: Resource.Repository.name,
    signingKeys: Resource.SigningKey.value,
    settings: settings(),
    logger,
  }).then((p) => p.publisher);
  return cached;
}

export function settings() {
  return parsePublisherSettings(process.env.PUBLISHER_SETTINGS, "PUBLISHER_SETTINGS");
}
