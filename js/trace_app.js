#!/usr/bin/env node
/**
 * Runs a Python app in Pyodide (Node) and records which files it reads and which dynamic libraries get loaded.
 * The driver of `rules-pyodide bundle` (rules_pyodide/bundle.py), for the trace run and the validation run.
 *
 *   node js/trace_app.js --pyodide <runtime dir> [--index-dir <dir>] [--load-package <name>]... [--load-imports]
 *       [--package <NAME.js>]... [--minimal-stdlib] --app <app.py>
 *
 * `--index-dir` is the runtime's indexURL (see js/run_in_pyodide.js); `--load-package` names are loaded with
 * `pyodide.loadPackage` (with their dependencies), `--load-imports` loads what the app's imports need, and
 * `--package` file packages are loaded with loadFilePackage; then the app runs with `runPythonAsync`.
 * `--minimal-stdlib` starts the runtime with `fullStdLib: false` (0.21 then skips loading distutils at start-up;
 * the bundle's own standard library archive holds what the app uses of it).
 *
 * stdout holds exactly one line of JSON:
 *   {"ok": true|false, "error": "...", "stdout": "<the app's stdout>", "pyodide": "<version>",
 *    "runtimePackages": [names], "loadedPackages": [names], "reads": {"load": [paths], "app": [paths]}, "dynlibs": [paths],
 *    "extensionModules": [paths], "moduleFiles": [paths], "sysPath": [entries],
 *    "timings": {"runtime": ms, "packages": ms, "app": ms}}
 * `runtimePackages` are the packages the runtime loaded on its own, `loadedPackages` all packages loaded before the
 * app ran. `reads` are the regular files opened for reading (FS.open without O_WRONLY), in first-open order, while packages
 * load and while the app runs; `dynlibs` the libraries given to `loadDynlib` or read as `.so` files;
 * `extensionModules` the `__file__` of every C extension module in `sys.modules` after the app, `moduleFiles` the
 * `__file__` of every module in it (what the runtime imported at start-up, for the packages and for the app: the
 * standard library a zip-imported stdlib reads cannot be seen by FS.open) and `sysPath` is `sys.path`. Exit status 1 if
 * anything failed (the report says what).
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { loadFilePackage } = require('./load_file_package.js');
const { importLoadPyodide } = require('./run_in_pyodide.js');

const O_ACCMODE = 3;
const O_WRONLY = 1;

/** @param {string[]} argv */
function parseArgs(argv) {
  const args = {
    pyodide: '', indexDir: '', loadPackages: [], loadImports: false, minimalStdlib: false, packages: [], app: '',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--load-imports' || flag === '--minimal-stdlib') {
      args[flag === '--load-imports' ? 'loadImports' : 'minimalStdlib'] = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--pyodide') args.pyodide = value;
    else if (flag === '--index-dir') args.indexDir = value;
    else if (flag === '--load-package') args.loadPackages.push(value);
    else if (flag === '--package') args.packages.push(value);
    else if (flag === '--app') args.app = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!args.pyodide || !args.app) throw new Error('--pyodide <runtime dir> and --app <app.py> are required');
  return args;
}

/**
 * Wraps FS.open (the syscalls and FS.readFile go through it) to record regular files opened for reading, and
 * `_api.loadDynlib` to record libraries. `phase.name` says which list a read goes to.
 */
function installRecorder(pyodide, phase) {
  const FS = pyodide._module.FS;
  const reads = { load: new Set(), app: new Set() };
  const dynlibs = new Set();
  const open = FS.open;
  FS.open = function (target, flags, ...rest) {
    const stream = open.call(this, target, flags, ...rest);
    const bits = typeof flags === 'string' ? FS.modeStringToFlags(flags) : flags;
    if ((bits & O_ACCMODE) !== O_WRONLY && stream && stream.node && FS.isFile(stream.node.mode)) {
      reads[phase.name].add(stream.path);
      if (/\.so(\.[0-9.]+)?$/.test(stream.path) && phase.name === 'load') dynlibs.add(stream.path);
    }
    return stream;
  };
  const api = pyodide._api;
  if (api && typeof api.loadDynlib === 'function') {
    const loadDynlib = api.loadDynlib;
    api.loadDynlib = function (lib, ...rest) {
      dynlibs.add(String(lib));
      return loadDynlib.call(this, lib, ...rest);
    };
  }
  return { reads, dynlibs };
}

/** Loads packages by name; the loader reports errors through a callback and resolves anyway. */
async function loadByName(pyodide, method, what) {
  const errors = [];
  const messageCallback = (msg) => process.stderr.write(msg + '\n');
  const errorCallback = (msg) => errors.push(String(msg));
  const [major, minor] = pyodide.version.split('.').map(Number);
  if (major === 0 && minor < 23) await pyodide[method](what, messageCallback, errorCallback);
  else await pyodide[method](what, { messageCallback, errorCallback });
  if (errors.length) throw new Error(`${method}: ${errors.join('; ')}`);
}

// Imports nothing (sys is built in), so that what it reports is what the runtime and the app imported. One line per
// module with a file: "E <path>" for an extension module, "M <path>" for any other; then "P <entry>" per sys.path entry.
const MODULE_FILES = `
import sys
"\\n".join(sorted({("E " if type(getattr(m, "__loader__", None)).__name__ == "ExtensionFileLoader" else "M ")
                    + m.__file__ for m in list(sys.modules.values())
                    if isinstance(getattr(m, "__file__", None), str)}) + ["P " + p for p in sys.path])
`;

async function main() {
  const out = { ok: false, stdout: '', timings: {} };
  const realStdoutWrite = process.stdout.write.bind(process.stdout);
  console.log = console.info = console.debug = (...a) => console.error(...a);
  const phase = { name: 'load' };
  let recorder = null;
  let step = 'start';
  try {
    const args = parseArgs(process.argv.slice(2));
    const code = fs.readFileSync(args.app, 'utf8');
    const dir = path.resolve(args.pyodide);
    const indexDir = args.indexDir ? path.resolve(args.indexDir) : dir;
    let t = performance.now();
    step = 'loading the runtime';
    const loadPyodide = await importLoadPyodide(dir);
    let capture = false;
    const pyodide = await loadPyodide({
      indexURL: indexDir + path.sep,
      ...(args.minimalStdlib ? { fullStdLib: false } : {}),
      stdout: (line) => (capture ? (out.stdout += line + '\n') : process.stderr.write(line + '\n')),
      stderr: (line) => process.stderr.write(line + '\n'),
    });
    out.pyodide = pyodide.version;
    out.timings.runtime = performance.now() - t;
    out.runtimePackages = Object.keys(pyodide.loadedPackages).sort(); // loaded by the runtime itself (0.21: distutils)
    recorder = installRecorder(pyodide, phase);
    t = performance.now();
    step = 'loading packages';
    for (const pkg of args.packages) await loadFilePackage(pyodide, path.resolve(pkg));
    if (args.loadPackages.length) await loadByName(pyodide, 'loadPackage', args.loadPackages);
    if (args.loadImports) await loadByName(pyodide, 'loadPackagesFromImports', code);
    out.loadedPackages = Object.keys(pyodide.loadedPackages).sort();
    out.timings.packages = performance.now() - t;
    phase.name = 'app';
    capture = true;
    t = performance.now();
    step = 'running the app';
    await pyodide.runPythonAsync(code);
    out.timings.app = performance.now() - t;
    capture = false;
    phase.name = 'load'; // what follows is ours, not the app's
    const lines = String(pyodide.runPython(MODULE_FILES)).split('\n');
    const tagged = (tag) => lines.filter((l) => l.startsWith(tag + ' ')).map((l) => l.slice(2));
    out.extensionModules = tagged('E');
    out.moduleFiles = [...tagged('E'), ...tagged('M')].sort();
    out.sysPath = tagged('P');
    out.ok = true;
  } catch (e) {
    const isPython = e && e.constructor && e.constructor.name === 'PythonError';
    out.error = `${step}: ` + (isPython ? String(e.message) : e && e.stack ? String(e.stack) : String(e));
    process.stderr.write(`trace_app: ${out.error}\n`);
  }
  if (recorder) {
    out.reads = { load: [...recorder.reads.load], app: [...recorder.reads.app] };
    out.dynlibs = [...recorder.dynlibs];
  }
  realStdoutWrite(JSON.stringify(out) + '\n', () => process.exit(out.ok ? 0 : 1));
}

main();
