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

/** `stream: 2` sends the lines to stderr (a script whose stdout is its JSON output). */
export function createLogger(
  name: string,
  options: { level?: string; stream?: 1 | 2 } = {},
): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? "info";
  const pretty =
    process.env.AWS_LAMBDA_FUNCTION_NAME === undefined &&
    process.stdout.isTTY === true &&
    process.env.LOG_FORMAT !== "json";
  const fd = options.stream ?? 1;
  const settings = {
    name,
    level,
    redact: { paths: REDACT, censor: "[redacted]" },
  };
  if (pretty) {
    return pino({
      ...settings,
      transport: {
        target: "pino-pretty",
        options: { colorize: true, ignore: "pid,hostname", destination: fd },
      },
    });
  }
  // Synchronous: a script's own stdout lines (its result) come after the logs that preceded
  // them, and nothing is lost to process.exit or a Lambda frozen between invocations.
  return pino(settings, pino.destination({ dest: fd, sync: true }));
}
