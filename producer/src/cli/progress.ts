import { SingleBar } from "cli-progress";

/** What the publish command reports while it runs. */
export interface Progress {
  update(state: { bytes: number; rows: number }): void;
  stop(): void;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * A progress bar (cli-progress) on a terminal: bytes read against the file size (so the ETA is
 * the file's), rows confirmed and their rate. Anywhere else nothing, the caller prints one summary
 * line at the end: logs and pipes get no redraw noise.
 */
export function createProgress(stream: NodeJS.WriteStream, totalBytes: number | undefined): Progress {
  if (!stream.isTTY) return { update: () => undefined, stop: () => undefined };
  const started = performance.now();
  const sized = totalBytes !== undefined && totalBytes > 0;
  const bar = new SingleBar({
    stream,
    format: sized
      ? "{bar} {percentage}% | {rows} rows | {rate} rows/s | {read} of {size} | ETA {eta_formatted}"
      : "{rows} rows | {rate} rows/s | {read} read",
    hideCursor: true,
    // Redrawn a few times a second: enough to watch, cheap next to the publishing.
    fps: 5,
    etaBuffer: 50,
  });
  const payload = (bytes: number, rows: number) => {
    const seconds = (performance.now() - started) / 1000;
    return {
      rows,
      rate: seconds > 0 ? Math.round(rows / seconds) : 0,
      read: formatBytes(bytes),
      size: sized ? formatBytes(totalBytes) : "",
    };
  };
  bar.start(sized ? totalBytes : 1, 0, payload(0, 0));
  return {
    update({ bytes, rows }) {
      bar.update(sized ? bytes : 0, payload(bytes, rows));
    },
    stop() {
      bar.stop();
    },
  };
}
