#!/usr/bin/env node
/**
 * Loads a Pyodide runtime, loads file packages into it and runs Python code. Used by the tests.
 *
 *   node js/run_in_pyodide.js --pyodide <runtime dir> [--package <NAME.js>]... (--code <python> | --code-file <path>)
 *
 * stdout holds exactly one line of JSON:
 *   {"ok": true, "result": <JSON of the last expression's value>, "stdout": "<Python's stdout>",
 *    "pyodide": "<version>", "packages": [{jsLocation, dataLocation, files, sharedLibraries}, ...]}
 * or, on any error, {"ok": false, "error": "<message>", "stdout": ...} and exit status 1. Everything else
 * (Pyodide's loading messages, Python's stderr, Node warnings) goes to stderr.
 *
 * The value of the last expression is converted with Python's `json.dumps`, so the code can end with a dict, list,
 * str, int, float, bool or None.
 *
 * `require('./run_in_pyodide.js')` exports `importLoadPyodide(runtimeDir)` for other Node scripts.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');
const { loadFilePackage } = require('./load_file_package.js');

/** @param {string[]} argv @returns {{pyodide: string, packages: string[], code: string}} */
function parseArgs(argv) {
  const args = { pyodide: '', packages: [], code: null };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    i++;
    if (flag === '--pyodide') args.pyodide = value;
    else if (flag === '--package') args.packages.push(value);
    else if (flag === '--code') args.code = value;
    else if (flag === '--code-file') args.code = fs.readFileSync(value, 'utf8');
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!args.pyodide) throw new Error('--pyodide <runtime dir> is required');
  if (args.code === null) throw new Error('--code or --code-file is required');
  return args;
}

/**
 * Imports the runtime's loadPyodide: the CommonJS pyodide.js where it exists, else the ESM pyodide.mjs.
 * @param {string} dir runtime directory @returns {Promise<Function>}
 */
async function importLoadPyodide(dir) {
  const cjs = path.join(dir, 'pyodide.js');
  if (fs.existsSync(cjs)) {
    try {
      return require(cjs).loadPyodide;
    } catch (e) {
      if (e.code !== 'ERR_REQUIRE_ESM') throw e;
    }
  }
  return (await import(pathToFileURL(path.join(dir, 'pyodide.mjs')).href)).loadPyodide;
}

async function main() {
  const out = { ok: false, stdout: '' };
  const realStdoutWrite = process.stdout.write.bind(process.stdout);
  // Keep stdout for the final JSON line: the runtimes print loading messages with console.log.
  console.log = console.info = console.debug = (...a) => console.error(...a);
  try {
    const args = parseArgs(process.argv.slice(2));
    const dir = path.resolve(args.pyodide);
    const loadPyodide = await importLoadPyodide(dir);
    let capture = false; // Python's stdout while the runtime starts is chatter too
    const pyodide = await loadPyodide({
      indexURL: dir + path.sep,
      stdout: (line) => {
        if (capture) out.stdout += line + '\n';
        else process.stderr.write(line + '\n');
      },
      stderr: (line) => process.stderr.write(line + '\n'),
    });
    capture = true;
    out.pyodide = pyodide.version;
    out.packages = [];
    for (const pkg of args.packages) out.packages.push(await loadFilePackage(pyodide, path.resolve(pkg)));
    const result = await pyodide.runPythonAsync(args.code);
    const json = pyodide.pyimport('json');
    out.result = JSON.parse(json.dumps(result));
    if (result && typeof result.destroy === 'function') result.destroy();
    json.destroy();
    out.ok = true;
  } catch (e) {
    out.error = e && e.stack ? String(e.stack) : String(e);
    process.stderr.write(`run_in_pyodide: ${out.error}\n`);
  }
  realStdoutWrite(JSON.stringify(out) + '\n', () => process.exit(out.ok ? 0 : 1));
}

if (require.main === module) main();

module.exports = { importLoadPyodide };
