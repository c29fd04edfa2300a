import { extname } from "node:path";

/** How an uploaded file turns into messages: CSV rows, NDJSON values, or plain lines. */
export const UPLOAD_FORMATS = ["csv", "ndjson", "lines"] as const;
export type UploadFormat = (typeof UPLOAD_FORMATS)[number];

const FORMAT_OF_MEDIA_TYPE: Readonly<Record<string, UploadFormat>> = {
  "text/csv": "csv",
  "application/x-ndjson": "ndjson",
  "application/ndjson": "ndjson",
  "application/jsonl": "ndjson",
  "text/plain": "lines",
};

const FORMAT_OF_EXTENSION: Readonly<Record<string, UploadFormat>> = {
  ".csv": "csv",
  ".ndjson": "ndjson",
  ".jsonl": "ndjson",
  ".txt": "lines",
};

/** The media types a raw upload body may have, for error messages and the docs. */
export const UPLOAD_MEDIA_TYPES = ["text/csv", "application/x-ndjson", "text/plain", "multipart/form-data"];

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

export function formatOfMediaType(contentType: string | undefined): UploadFormat | undefined {
  return FORMAT_OF_MEDIA_TYPE[mediaType(contentType)];
}

export function formatOfFileName(name: string | undefined): UploadFormat | undefined {
  return name ? FORMAT_OF_EXTENSION[extname(name).toLowerCase()] : undefined;
}

/**
 * The format of a multipart file part: its own content type when that names a format, else its
 * file name's extension (curl -F sends application/octet-stream for a .csv file).
 */
export function formatOfPart(mimeType: string | undefined, fileName: string | undefined): UploadFormat | undefined {
  return formatOfMediaType(mimeType) ?? formatOfFileName(fileName);
}
