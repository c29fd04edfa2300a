import { ConfigError } from "@queuescale/core";
import { UPLOAD_FORMATS, type UploadFormat } from "../upload/format.js";
import { UPLOAD_ID_RULE, isUploadId } from "../upload/ids.js";

export const COMMANDS = ["serve", "publish", "trickle"] as const;
export type CommandName = (typeof COMMANDS)[number];

export interface Command {
  readonly name: CommandName;
  /** --queue, for publish and trickle. */
  readonly queue: string;
  /** --file for publish: a path, or `-` for standard input (the default). */
  readonly file: string;
  /** --format for publish: how rows are read; by default from the file's extension. */
  readonly format?: UploadFormat;
  /** --from-line for publish: rows starting before this line are skipped (a resume). */
  readonly fromLine: number;
  /** --upload-id for publish: message ids are `<upload id>:<line>`; generated when absent. */
  readonly uploadId?: string;
  /** Everything else, for readSettings (`--interval` becomes `--message-interval`). */
  readonly settingsArgv: string[];
}

const COMMAND_FLAGS = new Set(["--queue", "--file", "--format", "--from-line", "--upload-id"]);
const PUBLISH_ONLY = ["--file", "--format", "--from-line", "--upload-id"];
const ALIASES: Readonly<Record<string, string>> = { "--interval": "--message-interval" };

/**
 * Takes the subcommand and its own flags off the command line; the rest are settings flags. The
 * first argument names the command when it is not a flag; without one the producer serves.
 */
export function splitCommand(argv: readonly string[]): Command {
  let name: CommandName = "serve";
  let rest = [...argv];
  const first = rest[0];
  if (first !== undefined && !first.startsWith("-")) {
    if (!(COMMANDS as readonly string[]).includes(first)) {
      throw new ConfigError("command", `unknown command ${first}; use ${COMMANDS.join(", ")}`);
    }
    name = first as CommandName;
    rest = rest.slice(1);
  }

  const own: Record<string, string> = {};
  const settingsArgv: string[] = [];
  for (let index = 0; index < rest.length; index++) {
    const token = rest[index]!;
    const equals = token.indexOf("=");
    const flag = equals > 0 ? token.slice(0, equals) : token;
    const inline = equals > 0 ? token.slice(equals + 1) : undefined;
    if (COMMAND_FLAGS.has(flag) || flag in ALIASES) {
      const value = inline ?? rest[++index];
      if (value === undefined || (inline === undefined && value.startsWith("--"))) {
        throw new ConfigError(flag, "needs a value");
      }
      if (flag in ALIASES) settingsArgv.push(ALIASES[flag]!, value);
      else own[flag] = value;
    } else {
      settingsArgv.push(token);
    }
  }

  const queue = own["--queue"] ?? "";
  if (name !== "serve" && queue === "") throw new ConfigError("--queue", `is required for ${name}`);
  if (name === "serve" && (own["--queue"] !== undefined || own["--file"] !== undefined)) {
    throw new ConfigError("command", "--queue and --file belong to the publish and trickle commands");
  }
  const misplaced = PUBLISH_ONLY.find((flag) => own[flag] !== undefined);
  if (name !== "publish" && misplaced) throw new ConfigError(misplaced, "belongs to the publish command");
  return { name, queue, file: own["--file"] ?? "-", ...publishFlags(own), settingsArgv };
}

function publishFlags(own: Record<string, string>): Pick<Command, "format" | "fromLine" | "uploadId"> {
  const format = own["--format"];
  if (format !== undefined && !(UPLOAD_FORMATS as readonly string[]).includes(format)) {
    throw new ConfigError("--format", `must be one of ${UPLOAD_FORMATS.join(", ")}`);
  }
  const fromLine = own["--from-line"] ?? "1";
  if (!/^\d+$/.test(fromLine) || !Number.isSafeInteger(Number(fromLine)) || Number(fromLine) < 1) {
    throw new ConfigError("--from-line", "must be a whole number from 1");
  }
  const uploadId = own["--upload-id"];
  if (uploadId !== undefined && !isUploadId(uploadId)) {
    throw new ConfigError("--upload-id", `must be ${UPLOAD_ID_RULE}`);
  }
  return { format: format as UploadFormat | undefined, fromLine: Number(fromLine), uploadId };
}
