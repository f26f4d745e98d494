// Structured logs: JSON lines in Lambda (and whenever stdout is not a terminal), readable
// lines for a person at a terminal. Secrets are redacted by path wherever they might appear.
import pino, { type Logger } from "pino";

export type { Logger };

const REDACT = [
  "privateKey",
  "*.privateKey",
  "privateKeyArmored",
  "*.privateKeyArmored",
  "signingKeys",
  "*.signingKeys",
  "passphrase",
  "*.passphrase",
  "secretAccessKey",
  "*.secretAccessKey",
  "credentials",
  "*.credentials",
];

export function createLogger(name: string, options: { level?: string } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? "info";
  const pretty =
    process.env.AWS_LAMBDA_FUNCTION_NAME === undefined &&
    process.stdout.isTTY === true &&
    process.env.LOG_FORMAT !== "json";
  return pino({
    name,
    level,
    redact: { paths: REDACT, censor: "[redacted]" },
    ...(pretty
      ? {
          transport: { target: "pino-pretty", options: { colorize: true, ignore: "pid,hostname" } },
        }
      : {}),
  });
}
