// Builds static/js/vendor/sip.js, the one browser ES module of SIP.js the shell's phone card
// imports (static/js/office/phone.js): the sip.js package from npm, at the version pinned in
// package.json, bundled and minified by esbuild (also pinned), with its MIT licence on top.
// The app serves that file itself: nothing comes from a CDN or from npm at run time.
//
//   node tests/node/build-sip.mjs [OUT]     (default: static/js/vendor/sip.js; `make vendor`)
//
// The same inputs give the same bytes: tests/unit/test_vendor_sip.py builds it again into a
// temporary file and compares, so the committed file is what this package version makes.
import { build, version as esbuildVersion } from "esbuild";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const out = process.argv[2] ?? fileURLToPath(new URL("../../static/js/vendor/sip.js", import.meta.url));
const pkg = JSON.parse(readFileSync(new URL("node_modules/sip.js/package.json", import.meta.url), "utf8"));
const licence = readFileSync(new URL("node_modules/sip.js/LICENSE.md", import.meta.url), "utf8").trim();

// What the card uses, and nothing else (the package declares no side effects: the rest is dropped).
const entry = 'export { Inviter, Registerer, RegistererState, SessionState, UserAgent } from "sip.js";\n';
const banner = [
  `/*! SIP.js ${pkg.version} (npm package sip.js, ${pkg.homepage}), built by tests/node/build-sip.mjs`,
  ` * with esbuild ${esbuildVersion}. Do not edit: run \`make vendor\` after changing the pinned version.`,
  " *",
  ...licence.split("\n").map((line) => (line ? ` * ${line}` : " *")),
  " */",
].join("\n");

await build({
  stdin: { contents: entry, resolveDir: here, loader: "js", sourcefile: "sip-entry.js" },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2020",
  minify: true,
  legalComments: "none",
  charset: "utf8",
  banner: { js: banner },
  outfile: out,
  logLevel: "warning",
});
