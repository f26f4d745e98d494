#!/usr/bin/env -S npx tsx
// The repository's signing keys: generate one (armored, with the `sst secret set` line), and
// list the fingerprints wherever they live (the secret, signing.key_ids, the published keyring,
// the newest kiro-repo) so a rotation can be followed step by step (docs/key-rotation.md).
import { writeFile } from "node:fs/promises";
import { keyringPath, loadConfig } from "@app/core/config";
import { compareVersions } from "@app/core/debian";
import { createLogger, type Logger } from "@app/core/log";
import { keyringFile, publisherSettings } from "@app/core/publish";
import {
  generateSigningKey,
  keyIdMismatch,
  keyringFingerprints,
  loadSigningKeys,
} from "@app/core/signing";
import { PackageStore } from "@app/core/store";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { Resource } from "sst";
import {
  isMain,
  PROJECT_ROOT,
  parseCommandLine,
  runScript,
  stageOf,
  stepper,
  UsageError,
} from "./cli";
import { bucketReader, type RepositoryReader } from "./status";

const HELP = `Usage: sst shell --stage <stage> scripts/keys.ts list
       sst shell --stage <stage> scripts/keys.ts generate --out FILE [--algorithm ed25519|rsa4096] [--name N] [--email E] [--dry-run]
       npm run shell -- scripts/keys.ts list               (local stage)

generate  writes a new armored private key to FILE (mode 600; never overwritten) and prints its
          fingerprint and the \`sst secret set\` line. Ed25519 (v4, EdDSA-legacy: what gpgv and
          sqv on Debian 12 verify) by default, or RSA 4096.
list      prints the fingerprints in the signing secret, in signing.key_ids, in the published
          keyring and in the newest kiro-repo package; exits 1 when they disagree.

Rotation (docs/key-rotation.md): generate the new key; set the secret to both keys and list both
in signing.key_ids; deploy (both keys sign InRelease, the keyring holds both); build a kiro-repo
that ships both; once users have it, remove the old key from both and deploy again.

Exit codes: 0 done (list: all agree), 1 a step failed or the lists disagree, 2 bad usage.
`;

export const LIST_STEPS = [
  "read the secret",
  "read the config",
  "read the published keyring",
  "read kiro-repo",
] as const;

export interface KeyListing {
  readonly secret: readonly string[];
  readonly config: readonly string[];
  readonly published: readonly string[] | undefined;
  readonly kiroRepo: { readonly version: string; readonly keys: readonly string[] } | undefined;
  /** Where the lists disagree, one sentence each. */
  readonly problems: readonly string[];
}

export interface ListParams {
  readonly root: string;
  readonly stage: string;
  readonly signingKeys: string;
  readonly reader: RepositoryReader;
  readonly dynamo: DynamoDBClient;
  readonly tableName: string;
  readonly logger: Logger;
}

const same = (a: readonly string[], b: readonly string[]) =>
  keyIdMismatch(a, b) === undefined && (b.length > 0 || a.length === 0);

export async function listKeys(params: ListParams): Promise<KeyListing> {
  const { logger } = params;
  const step = stepper(logger, LIST_STEPS);
  const secret = await step("read the secret", async () =>
    (await loadSigningKeys(params.signingKeys)).map((k) => k.fingerprint).sort(),
  );
  const config = await step("read the config", () => loadConfig(params.root, params.stage));
  const configured = config.stage.signing.key_ids.map((k) => k.toUpperCase()).sort();
  const root = publisherSettings(config).root;
  const published = await step("read the published keyring", async () => {
    const bytes = await params.reader.get(keyringFile(root, "gpg"));
    return bytes === undefined ? undefined : keyringFingerprints(bytes);
  });
  const kiroRepo = await step("read kiro-repo", async () => {
    const store = new PackageStore({ client: params.dynamo, tableName: params.tableName, logger });
    const records = (await store.versionsOf(root.repoPackage)).sort((a, b) =>
      compareVersions(a.version, b.version),
    );
    const newest = records.at(-1);
    if (newest === undefined) return undefined;
    const build = config.packages.get(root.repoPackage)?.source;
    const path = keyringPath(build?.type === "build" ? build.keyring_name : root.keyring);
    const file = newest.contents?.find((c) => c.path === path);
    return {
      version: newest.version,
      keys: file === undefined ? [] : await keyringFingerprints(file.content),
    };
  });
  const problems: string[] = [];
  // The local stage lists no key_ids: it generates its own key.
  if (configured.length > 0 && !same(secret, configured))
    problems.push("the secret's keys are not signing.key_ids");
  if (published === undefined) problems.push("no published keyring");
  else if (!same(published, secret))
    problems.push("the published keyring is not the secret's keys");
  if (kiroRepo !== undefined && !secret.every((f) => kiroRepo.keys.includes(f)))
    problems.push(`kiro-repo ${kiroRepo.version} does not ship every key of the secret`);
  return { secret, config: configured, published, kiroRepo, problems };
}

export function renderListing(l: KeyListing): string {
  const show = (xs: readonly string[] | undefined) =>
    xs === undefined ? "(none)" : xs.join(", ") || "(none)";
  return [
    `secret:            ${show(l.secret)}`,
    `signing.key_ids:   ${show(l.config)}`,
    `published keyring: ${show(l.published)}`,
    `kiro-repo:         ${l.kiroRepo === undefined ? "(none recorded)" : `${l.kiroRepo.version}: ${show(l.kiroRepo.keys)}`}`,
    l.problems.length === 0 ? "OK: they agree" : l.problems.map((p) => `PROBLEM: ${p}`).join("\n"),
    "",
  ].join("\n");
}

export async function generate(options: {
  readonly out: string;
  readonly algorithm: "ed25519" | "rsa4096";
  readonly name: string;
  readonly email: string;
  readonly stage: string;
  readonly dryRun?: boolean;
}): Promise<string> {
  const set = `npx sst secret set SigningKey --stage ${options.stage} < ${options.out}`;
  if (options.dryRun)
    return `dry run: would write a new ${options.algorithm} key to ${options.out}\nthen: ${set}\n`;
  const key = await generateSigningKey({
    name: options.name,
    email: options.email,
    algorithm: options.algorithm,
  });
  // wx: never overwrite a key file (it may be the only copy of the current key).
  await writeFile(options.out, key.privateKeyArmored, { mode: 0o600, flag: "wx" });
  return [
    `wrote a new ${options.algorithm} signing key to ${options.out} (keep it secret)`,
    `fingerprint: ${key.fingerprint.toUpperCase()}`,
    `set it:   ${set}`,
    `rotating: cat current.asc ${options.out} | npx sst secret set SigningKey --stage ${options.stage}`,
    `and list it in config/stages/${options.stage}.yaml under signing.key_ids`,
    "",
  ].join("\n");
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "generate") {
    const args = parseCommandLine(rest, {
      out: { type: "string" },
      algorithm: { type: "string" },
      name: { type: "string" },
      email: { type: "string" },
      stage: { type: "string" },
      "dry-run": { type: "boolean" },
    });
    if (args.out === undefined || args.out === "")
      throw new UsageError("generate needs --out FILE");
    const algorithm = args.algorithm ?? "ed25519";
    if (algorithm !== "ed25519" && algorithm !== "rsa4096")
      throw new UsageError(`--algorithm must be ed25519 or rsa4096, not ${algorithm}`);
    const stage = stageOf(args.stage);
    process.stdout.write(
      await generate({
        out: args.out,
        algorithm,
        name: args.name ?? "Kiro Repository",
        email: args.email ?? "repository@kiro.dev",
        stage,
        dryRun: args["dry-run"] === true,
      }),
    );
    return 0;
  }
  if (command === "list") {
    const args = parseCommandLine(rest, { stage: { type: "string" } });
    const listing = await listKeys({
      root: PROJECT_ROOT,
      stage: stageOf(args.stage),
      signingKeys: Resource.SigningKey.value,
      reader: bucketReader(
        new S3Client({ forcePathStyle: process.env.AWS_ENDPOINT_URL_S3 !== undefined }),
        Resource.Repository.name,
      ),
      dynamo: new DynamoDBClient({ maxAttempts: 1 }),
      tableName: Resource.Packages.name,
      logger: createLogger("keys", { stream: 2 }),
    });
    process.stdout.write(renderListing(listing));
    return listing.problems.length === 0 ? 0 : 1;
  }
  throw new UsageError(
    command === undefined ? "a command is needed: list or generate" : `unknown command ${command}`,
  );
}

if (isMain(import.meta.url)) runScript(HELP, main);
