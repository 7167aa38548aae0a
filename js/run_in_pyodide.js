#!/usr/bin/env node
/**
 * Loads a Pyodide runtime, loads file packages into it and runs Python code. Used by the tests.
 *
 *   node js/run_in_pyodide.js --pyodide <runtime dir> [--index-dir <dir>] [--package <NAME.js>]...
 *       [--load-package <name>]... [--load-imports] [--no-result] (--code <python> | --code-file <path>)
 *
 * stdout holds exactly one line of JSON:
 *   {"ok": true, "result": <JSON of the last expression's value>, "stdout": "<Python's stdout>",
 *    "pyodide": "<version>", "packages": [{jsLocation, dataLocation, files, sharedLibraries}, ...],
 *    "loadedPackages": {<name>: <channel>, ...}}
 * or, on any error, {"ok": false, "error": "<message>", "stdout": ...} and exit status 1. Everything else
 * (Pyodide's loading messages, Python's stderr, Node warnings) goes to stderr. When the code calls `sys.exit(n)`,
 * the report has `"exitStatus": n` (as CPython computes it), and is a success when n is 0.
 *
 * `--index-dir` is the runtime's indexURL: a directory holding the runtime's files and its index file
 * (repodata.json or pyodide-lock.json), where `pyodide.loadPackage` finds packages (rules_pyodide.run builds one
 * that adds our packages to the runtime's own). Default: the runtime directory itself. loadPyodide is always
 * imported from `--pyodide`.
 * `--load-package` names are loaded with `pyodide.loadPackage` (with their dependencies) before the code runs, and
 * `--load-imports` loads the packages of the code's imports (`loadPackagesFromImports`); an error reported by the
 * loader, or a requested package missing from `pyodide.loadedPackages` afterwards, is an error.
 *
 * The value of the last expression is converted with Python's `json.dumps`, so the code can end with a dict, list,
 * str, int, float, bool or None; with `--no-result` it is dropped (`result` is null), as `python -c` would.
 *
 * `require('./run_in_pyodide.js')` exports `importLoadPyodide(runtimeDir)` for other Node scripts.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');
const { loadFilePackage } = require('./load_file_package.js');

/**
 * @param {string[]} argv
 * @returns {{pyodide: string, indexDir: string, packages: string[], loadPackages: string[], loadImports: boolean,
 *            noResult: boolean, code: string}}
 */
function parseArgs(argv) {
  const args = {
    pyodide: '', indexDir: '', packages: [], loadPackages: [], loadImports: false, noResult: false, code: null,
  };
  const switches = { '--load-imports': 'loadImports', '--no-result': 'noResult' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag in switches) {
      args[switches[flag]] = true;
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    i++;
    if (flag === '--pyodide') args.pyodide = value;
    else if (flag === '--index-dir') args.indexDir = value;
    else if (flag === '--package') args.packages.push(value);
    else if (flag === '--load-package') args.loadPackages.push(value);
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

/**
 * Runs one of the runtime's package loaders and turns every error it reports into an exception: the loaders
 * report errors (unknown package, failed download) through a callback and resolve anyway. Pyodide 0.21 takes the
 * callbacks as positional arguments, later versions as an options object.
 * @param {object} pyodide @param {'loadPackage'|'loadPackagesFromImports'} method @param {string|string[]} what
 */
async function loadReportingErrors(pyodide, method, what) {
  const errors = [];
  const messageCallback = (msg) => process.stderr.write(msg + '\n');
  const errorCallback = (msg) => errors.push(String(msg));
  const [major, minor] = pyodide.version.split('.').map(Number);
  if (major === 0 && minor < 23) await pyodide[method](what, messageCallback, errorCallback);
  else await pyodide[method](what, { messageCallback, errorCallback });
  if (errors.length) throw new Error(`${method}: ${errors.join('; ')}`);
}

/**
 * Sends the package loader's progress messages to stderr when the caller (e.g. Python's `pyodide_js.loadPackage`)
 * gives no messageCallback: from 0.29 on the runtime prints them to Python's stdout, where they would mix with the
 * program's output. Earlier versions print them with console.log, which main() already sends to stderr.
 * @param {object} pyodide
 */
function loaderMessagesToStderr(pyodide) {
  const [major, minor] = pyodide.version.split('.').map(Number);
  if (major === 0 && minor < 29) return;
  const original = pyodide.loadPackage.bind(pyodide);
  const messageCallback = (msg) => process.stderr.write(msg + '\n');
  pyodide.loadPackage = (names, options = {}) =>
    original(names, typeof options === 'object' && options !== null ? { messageCallback, ...options } : options);
}

/** @param {object} pyodide @returns {Object<string, string>} name -> channel of every loaded package */
function loadedPackages(pyodide) {
  const loaded = pyodide.loadedPackages;
  const out = {};
  for (const name of Object.keys(loaded).sort()) out[name] = String(loaded[name]);
  return out;
}

/**
 * The status of a `SystemExit` traceback, as CPython would exit: no argument or None or 0 -> 0, an int -> it,
 * anything else -> 1. Undefined for any other error.
 * @param {string} error @returns {number|undefined}
 */
function systemExitStatus(error) {
  const lines = error.trim().split('\n');
  const match = /^SystemExit(?:: (.*))?$/.exec(lines[lines.length - 1].trim());
  if (!match) return undefined;
  const arg = match[1] === undefined ? '' : match[1].trim();
  if (arg === '' || arg === 'None') return 0;
  return /^-?\d+$/.test(arg) ? Number(arg) & 255 : 1;
}

async function main() {
  const out = { ok: false, stdout: '' };
  const realStdoutWrite = process.stdout.write.bind(process.stdout);
  let finished = false;
  /** Writes the report once and exits. */
  const finish = () => {
    if (finished) return;
    finished = true;
    realStdoutWrite(JSON.stringify(out) + '\n', () => process.exit(out.ok ? 0 : 1));
  };
  /** Records an error; `sys.exit(...)` (SystemExit) becomes `exitStatus`, and a success when it is 0. */
  const fail = (e) => {
    // A Python exception's message is its traceback; the JS stack under it is the runtime's internals.
    const isPython = e && e.constructor && e.constructor.name === 'PythonError';
    out.error = isPython ? String(e.message) : e && e.stack ? String(e.stack) : String(e);
    const status = isPython ? systemExitStatus(out.error) : undefined;
    if (status !== undefined) {
      out.exitStatus = status;
      out.ok = status === 0;
      if (out.ok) delete out.error;
      else process.stderr.write(`run_in_pyodide: ${out.error}\n`);
    } else {
      out.ok = false;
      process.stderr.write(`run_in_pyodide: ${out.error}\n`);
    }
  };
  // SystemExit escapes runPythonAsync: asyncio re-raises it from the event loop's callback, outside any promise.
  // Installed once the runtime is loaded, in place of emscripten's handlers (which rethrow: node exits with 7).
  const failAndFinish = (e) => {
    fail(e);
    finish();
  };
  const catchEscapedErrors = () => {
    for (const event of ['uncaughtException', 'unhandledRejection']) {
      process.removeAllListeners(event);
      process.on(event, failAndFinish);
    }
  };
  // Keep stdout for the final JSON line: the runtimes print loading messages with console.log.
  console.log = console.info = console.debug = (...a) => console.error(...a);
  try {
    const args = parseArgs(process.argv.slice(2));
    const dir = path.resolve(args.pyodide);
    const indexDir = args.indexDir ? path.resolve(args.indexDir) : dir;
    const loadPyodide = await importLoadPyodide(dir);
    let capture = false; // Python's stdout while the runtime starts is chatter too
    const pyodide = await loadPyodide({
      indexURL: indexDir + path.sep,
      stdout: (line) => {
        if (capture) out.stdout += line + '\n';
        else process.stderr.write(line + '\n');
      },
      stderr: (line) => process.stderr.write(line + '\n'),
    });
    capture = true;
    catchEscapedErrors();
    out.pyodide = pyodide.version;
    loaderMessagesToStderr(pyodide);
    out.packages = [];
    for (const pkg of args.packages) out.packages.push(await loadFilePackage(pyodide, path.resolve(pkg)));
    if (args.loadPackages.length) {
      await loadReportingErrors(pyodide, 'loadPackage', args.loadPackages);
      // Index keys differ between versions (0.21-0.23 lower-case them, 0.26+ canonicalize): compare as PEP 503.
      const canonical = (name) => name.toLowerCase().replace(/[-_.]+/g, '-');
      const loaded = new Set(Object.keys(pyodide.loadedPackages).map(canonical));
      const missing = args.loadPackages.filter((name) => !loaded.has(canonical(name)));
      if (missing.length) throw new Error(`loadPackage: not loaded: ${missing.join(', ')}`);
    }
    if (args.loadImports) await loadReportingErrors(pyodide, 'loadPackagesFromImports', args.code);
    out.loadedPackages = loadedPackages(pyodide);
    const result = await pyodide.runPythonAsync(args.code);
    out.loadedPackages = loadedPackages(pyodide);
    if (args.noResult) out.result = null;
    else {
      const json = pyodide.pyimport('json');
      out.result = JSON.parse(json.dumps(result));
      json.destroy();
    }
    if (result && typeof result.destroy === 'function') result.destroy();
    out.ok = true;
  } catch (e) {
    fail(e);
  }
  finish();
}

if (require.main === module) main();

module.exports = { importLoadPyodide };
