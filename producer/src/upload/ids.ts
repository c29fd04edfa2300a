/** An upload id: what a client's Idempotency-Key (or --upload-id) may be. */
const UPLOAD_ID = /^[\x21-\x7e]{1,100}$/;

export const UPLOAD_ID_RULE = "1-100 printable ASCII characters without spaces";

export function isUploadId(value: string): boolean {
  return UPLOAD_ID.test(value);
}

/** A row's message id: the same for the same upload id and line, so a retry repeats it. */
export function rowMessageId(uploadId: string, line: number): string {
  return `${uploadId}:${line}`;
}
