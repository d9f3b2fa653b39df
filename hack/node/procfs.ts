// Reading /proc: the mount table and small files that may vanish while read.
import { readFileSync } from 'node:fs';

export interface Mount {
  point: string;
  fstype: string;
}

export function mounts(): Mount[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [before = '', after = ''] = line.split(' - ');
      const point = (before.split(' ')[4] ?? '').replace(/\\(\d{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
      return { point, fstype: after.split(' ')[0] ?? '' };
    });
}

export function readIfExists(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
