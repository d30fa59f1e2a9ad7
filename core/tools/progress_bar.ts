/**
 * The download progress line of DESIGN §7:
 * `Update progress: [▒▒▒▒▒▒    ] 60% 12.4 MB/s (Ctrl-C to cancel)`.
 */
export function progressBar(received: number, total: number, bytesPerSecond: number, width = 10): string {
  const ratio = total > 0 ? Math.min(1, Math.max(0, received / total)) : 0;
  const filled = Math.round(ratio * width);
  const speed = `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
  return `Update progress: [${"▒".repeat(filled)}${" ".repeat(width - filled)}] ${Math.floor(ratio * 100)}% ${speed} (Ctrl-C to cancel)`;
}
