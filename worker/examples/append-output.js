// The "consumer writes output.txt" handler: each processed message is appended to a file.
//
//   OUTPUT_FILE  the file to append to (required); one JSON line per message:
//                {"id": message id, "attempt": n, "body": the body as UTF-8 text}
//
// The id is the publisher's: rows of a producer upload arrive as `<upload id>:<line>`, so the file
// says which line of which upload each output came from. A message handled twice (after a crash,
// or a retried RabbitMQ upload) is appended twice with the same id.
import { openSync, writeSync } from "node:fs";

const outputFile = process.env.OUTPUT_FILE;
if (!outputFile) throw new Error("OUTPUT_FILE must name the file this handler appends to");
// One append-mode descriptor: each line is a single write, so lines of several workers never interleave.
const output = openSync(outputFile, "a");

export function handle(message) {
  const line = JSON.stringify({ id: message.id, attempt: message.attempt, body: message.body.toString("utf8") });
  writeSync(output, `${line}\n`);
}
