/**
 * A Debian binary package (or one of its ar/tar layers) that cannot be read, or a package spec
 * that cannot be written. The message always names the source (file, member, entry) and what is
 * wrong, so one bad .deb among many is easy to find.
 */
export class DebFormatError extends Error {
  override readonly name = "DebFormatError";

  constructor(
    /** What was being read, e.g. `kiro_1.0_amd64.deb: data.tar.xz`. */
    readonly source: string,
    /** What is wrong, without the source. */
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`${source}: ${detail}`, options);
  }
}

/** A `writeDeb`/`writeTar`/`writeAr` input that cannot make a valid package. */
export class DebSpecError extends Error {
  override readonly name = "DebSpecError";
}
