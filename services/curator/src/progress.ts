/** @module Progress of long CLI work on stderr: one rewritten line on a terminal, a line every few seconds otherwise. */
export class Progress {
  private last = 0;
  private readonly started = performance.now();
  private readonly tty = Boolean(process.stderr.isTTY);
  private wrote = false;

  constructor(private readonly label: string) {}

  update(text: string, force = false): void {
    const now = performance.now();
    if (!force && now - this.last < (this.tty ? 100 : 5_000)) return;
    this.last = now;
    const seconds = ((now - this.started) / 1000).toFixed(1);
    const line = `${this.label}: ${text} (${seconds}s)`;
    if (this.tty) process.stderr.write(`\r\u001b[2K${line}`);
    else process.stderr.write(`${line}\n`);
    this.wrote = true;
  }

  done(): void {
    if (this.tty && this.wrote) process.stderr.write("\n");
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
