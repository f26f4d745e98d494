// The store's typed errors. Each names the operation and, where there is one, the package id,
// so a log line or a failed script says what it was doing to which record.
import type { RecordIssue } from "../record";
import { describeError } from "./retry";

export type StoreOperation =
  | "put"
  | "get"
  | "getMany"
  | "scan"
  | "versionsOf"
  | "pinFile"
  | "delete";

/** Any failure of the store; the subclasses below are the ones a caller acts on. */
export class StoreError extends Error {
  constructor(
    readonly operation: StoreOperation,
    readonly id: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation}${id === undefined ? "" : ` ${JSON.stringify(id)}`}: ${message}`, options);
    this.name = "StoreError";
  }
}

/**
 * A put under an id whose item holds other bytes (or other control data): a published version
 * never changes. `differences` names the attributes that disagree; when the stored item is not
 * a valid record at all, `existingIssues` says why (it is never overwritten either).
 */
export class VersionExistsError extends StoreError {
  constructor(
    id: string,
    readonly differences: readonly string[],
    readonly existingIssues?: readonly RecordIssue[],
  ) {
    super(
      "put",
      id,
      existingIssues === undefined
        ? `this version exists with different ${differences.join(", ")}; a version is written once`
        : `an invalid item holds this id (${existingIssues.map((i) => `${i.field}: ${i.message}`).join("; ")}); fix or delete it first`,
    );
    this.name = "VersionExistsError";
  }
}

/**
 * A put of a version dpkg finds equal to the stored one but spelled otherwise (`1.0-0` where
 * `1.0` is stored): both have one package_id, and the first one written stays.
 */
export class EqualVersionExistsError extends VersionExistsError {
  constructor(
    id: string,
    readonly storedVersion: string,
    readonly attemptedVersion: string,
  ) {
    super(id, ["version"]);
    this.message = `put ${JSON.stringify(id)}: version ${attemptedVersion} is the same version to dpkg as the stored ${storedVersion}; a version is written once (publish a higher one)`;
    this.name = "EqualVersionExistsError";
  }
}

/** A record already pinned to other bytes than the ones being pinned. */
export class PinnedMismatchError extends StoreError {
  constructor(
    id: string,
    readonly differences: readonly string[],
    readonly pinnedSha256: string,
    readonly attemptedSha256: string,
  ) {
    super(
      "pinFile",
      id,
      `already pinned to sha256 ${pinnedSha256}, not ${attemptedSha256} (differs in ${differences.join(", ")}); a published version never changes its bytes`,
    );
    this.name = "PinnedMismatchError";
  }
}

/** The operation needs an item that does not exist. */
export class RecordNotFoundError extends StoreError {
  constructor(operation: StoreOperation, id: string) {
    super(operation, id, "no such record");
    this.name = "RecordNotFoundError";
  }
}

/** A throttling, server or network failure that outlasted every retry. */
export class TransientError extends StoreError {
  constructor(
    operation: StoreOperation,
    id: string | undefined,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(operation, id, `failed after ${attempts} attempts: ${describeError(cause)}`, { cause });
    this.name = "TransientError";
  }
}
