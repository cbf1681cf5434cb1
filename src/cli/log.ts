// The command line's logger: every level to stderr, so that stdout carries only a command's answer.
import type { Logger } from '../node.js';

export const stderrLog: Logger = {
  info: (m) => process.stderr.write(`${m}\n`),
  warn: (m) => process.stderr.write(`${m}\n`),
  error: (m) => process.stderr.write(`${m}\n`),
};
