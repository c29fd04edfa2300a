/**
 * Why an upload stopped on its input, with the 1-based line it stopped at: everything before that
 * line was handled, so the client resumes with `fromLine` = `line`.
 */
export class UploadInputError extends Error {
  constructor(
    /** 400 unreadable input, 413 over MAX_UPLOAD_BYTES, 415 unknown format, 422 a row that cannot be a message. */
    readonly status: 400 | 413 | 415 | 422,
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = "UploadInputError";
  }
}

/** The body grew past the upload limit; the line reader turns it into a 413 at the line it was reading. */
export class UploadTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the upload is larger than MAX_UPLOAD_BYTES (${limit} bytes)`);
    this.name = "UploadTooLarge";
  }
}
