// What the test peers built on node-oidc-provider share: serve on loopback, say so as a JSON
// line on stdout, answer JSON lines from stdin (if asked to), and stop when stdin closes
// (the Python side closes it, and its exit closes it too).

import { readFileSync } from 'node:fs';
import * as readline from 'node:readline';

export function say(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

const version = JSON.parse(readFileSync(new URL('./node_modules/oidc-provider/package.json', import.meta.url)))
  .version;

export function serve(provider, port, issuer, onLine) {
  const server = provider.listen(port, '127.0.0.1', () => say({ ready: true, issuer, version }));
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  if (onLine) lines.on('line', onLine);
  lines.on('close', () => {
    server.close();
    process.exit(0);
  });
}
