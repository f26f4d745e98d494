// A vendor for tests: an HTTP server on 127.0.0.1 serving a release feed, .debs built by the
// core library, and (for signed versions) a certificate and signature made with openssl. Each
// path can be given faults: a number of 503s first, a truncated body, other bytes on a retry.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { writeDeb } from "@app/core/debian";
import { scratch } from "@app/core/testing";
import { freePort } from "../local/ports";

export interface Served {
  body: Uint8Array;
  /** Answer 503 this many times first. */
  failures?: number;
  /** Send Content-Length of the whole body but only this many bytes, then close. */
  truncateAt?: number;
  /** What later requests get (after the first complete answer). */
  later?: Uint8Array;
}

export interface FakeUpstream {
  readonly url: string;
  /** Serves `body` at `path` (replacing what was there). */
  serve(path: string, served: Served): void;
  /** Requests per path so far. */
  readonly hits: Map<string, number>;
  stop(): Promise<void>;
}

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const routes = new Map<string, Served & { served: number }>();
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes.get(path);
    if (route === undefined) {
      res.writeHead(404).end();
      return;
    }
    if ((route.failures ?? 0) > 0) {
      route.failures = (route.failures ?? 0) - 1;
      res.writeHead(503, { "retry-after": "0" }).end("busy");
      return;
    }
    const body = route.served > 0 && route.later !== undefined ? route.later : route.body;
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(body.length),
    });
    if (route.truncateAt !== undefined) {
      res.write(body.subarray(0, route.truncateAt), () => res.destroy());
      return;
    }
    route.served++;
    res.end(body);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    serve: (path, served) => routes.set(path, { ...served, served: 0 }),
    hits,
    stop: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A small real .deb of `name` `version` `arch` (its control says so unless overridden). */
export function testDeb(
  name: string,
  version: string,
  arch: string,
  options: { controlVersion?: string; extra?: string; depends?: string } = {},
): Uint8Array {
  return writeDeb({
    control: [
      { name: "Package", value: name },
      { name: "Version", value: options.controlVersion ?? version },
      { name: "Architecture", value: arch },
      { name: "Maintainer", value: "Kiro Team <support@kiro.dev>" },
      ...(options.depends === undefined ? [] : [{ name: "Depends", value: options.depends }]),
      { name: "Section", value: "devel" },
      { name: "Priority", value: "optional" },
      { name: "Homepage", value: "https://kiro.dev" },
      { name: "X-Vendor-Build", value: `${version}-build` },
      {
        name: "Description",
        value: `${name} for tests\n Built by the sources test.\n .\n ${options.extra ?? "Second paragraph."}`,
      },
    ],
    files: [{ path: `/usr/share/doc/${name}/README`, content: `${name} ${version} ${arch}\n` }],
    compression: "gzip",
  });
}

export interface Signer {
  readonly certificatePem: string;
  readonly fingerprint256: string;
  readonly subject: string;
  sign(bytes: Uint8Array): Uint8Array;
  cleanup(): void;
}

/**
 * A vendor key and self-signed certificate made by the openssl CLI, and openssl's signatures:
 * RSA or ECDSA (P-256) over SHA-256 by `openssl dgst`, Ed25519 by `openssl pkeyutl -rawin`.
 */
export function opensslSigner(
  subject = "/CN=Kiro Test Vendor/O=Kiro Test",
  kind: "rsa" | "ecdsa" | "ed25519" = "rsa",
): Signer {
  const { dir, cleanup } = scratch("vendor-key-");
  const key = join(dir, "key.pem");
  const cert = join(dir, "certificate.pem");
  const newkey = {
    rsa: ["-newkey", "rsa:2048"],
    ecdsa: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    ed25519: ["-newkey", "ed25519"],
  }[kind];
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      ...newkey,
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-subj",
      subject,
      "-days",
      "2",
    ],
    { stdio: "ignore" },
  );
  const fingerprint = execFileSync(
    "openssl",
    ["x509", "-in", cert, "-noout", "-fingerprint", "-sha256"],
    {
      encoding: "utf8",
    },
  )
    .trim()
    .replace(/^.*=/, "");
  const certificatePem = readFileSync(cert, "utf8");
  return {
    certificatePem,
    fingerprint256: fingerprint,
    subject: subject.split("/").filter(Boolean).join("\n"),
    sign(bytes) {
      const file = join(dir, "data.bin");
      writeFileSync(file, bytes);
      return kind === "ed25519"
        ? execFileSync("openssl", ["pkeyutl", "-sign", "-rawin", "-inkey", key, "-in", file])
        : execFileSync("openssl", ["dgst", "-sha256", "-sign", key, file]);
    },
    cleanup,
  };
}

export interface FeedVersion {
  readonly version: string;
  readonly debPath: string;
  readonly certificatePath?: string;
  readonly signaturePath?: string;
}

/** The vendor's feed shape, entries of a version adjacent (as the real feed has them). */
export function feedJson(base: string, versions: readonly FeedVersion[], current?: string) {
  const entry = (version: string, path: string) => ({
    version,
    updateTo: {
      version,
      pub_date: "2026-11-20T10:00:00Z",
      notes: `Release ${version}`,
      name: `Kiro ${version}`,
      url: `${base}${path}`,
    },
  });
  return {
    currentRelease: current ?? versions[versions.length - 1]?.version ?? "0",
    releases: versions.flatMap((v) => [
      entry(v.version, v.debPath),
      ...(v.certificatePath ? [entry(v.version, v.certificatePath)] : []),
      ...(v.signaturePath ? [entry(v.version, v.signaturePath)] : []),
    ]),
  };
}
