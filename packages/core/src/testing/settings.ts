// The publisher settings the core's unit tests run with: one suite, one component, amd64, the
// by-hash grace of production (an hour).
import type { PublisherSettings } from "../publish/settings";

export const TEST_SETTINGS: PublisherSettings = {
  defaultSuite: "stable",
  defaultComponent: "main",
  components: ["main"],
  architectures: ["amd64"],
  origin: "Kiro",
  label: "Kiro",
  byHashGraceMs: 3_600_000,
  root: {
    repoPackage: "kiro-repo",
    repoCopyKey: "kiro-repo.deb",
    repoUrl: "http://127.0.0.1:1/repo",
    suite: "stable",
    components: ["main"],
    keyring: "kiro-archive-keyring",
    sourcesName: "kiro",
  },
};
