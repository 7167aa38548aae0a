/**
 * Loads an emscripten file package (`NAME.js` + `NAME.data`, plain or LZ4, optionally with a separate
 * `NAME.js.metadata`) into a running Pyodide, in Node or in a browser.
 *
 * No Pyodide version loads such packages through `pyodide.loadPackage`, so this module runs the package's
 * own loader code against the runtime's emscripten `Module`:
 *
 *  1. A dry run evaluates the package `.js` against an inert stand-in Module to learn which resources it wants
 *     (the `.data` name + expected size, and the `.js.metadata` URL if any). Nothing touches the real file system,
 *     so a missing or truncated `.data` is reported before any file is created.
 *  2. Those resources are read (fs in Node, fetch in a browser), resolved relative to the package `.js`.
 *  3. The real run evaluates the `.js` with `Module` bound to a thin view of `pyodide._module` (an object whose
 *     prototype is the real Module) that serves the bytes through `getPreloadedPackage`, resolves names through
 *     `locateFile`, and tracks the package's run dependencies. The real Module is never modified, so there is no
 *     hook to restore afterwards.
 *  4. Once the package's run dependencies have drained, shared libraries (`.so`) in the package are loaded the way
 *     Pyodide's own loader does (`pyodide._api.loadDynlib`), and `importlib.invalidate_caches()` is called.
 *
 * The package code is evaluated with `new Function('Module', 'XMLHttpRequest', 'fetch', 'process', 'require', code)`:
 * file names are never spliced into code by this module. `process` and `require` are hidden so that the package
 * takes its browser I/O path in Node too, and that path (XMLHttpRequest or fetch) is served by this module from
 * resources it has read; so the package never reads anything by itself.
 *
 * Usable as CommonJS (`require`), from ESM (`import {loadFilePackage} from '.../load_file_package.js'`), and as a
 * plain browser script (defines `globalThis.loadFilePackage`).
 */
'use strict';

(function () {
  const IN_NODE =
    typeof process === 'object' && process !== null && typeof process.versions === 'object' &&
    typeof process.versions.node === 'string' && typeof require === 'function';

  /** Thrown by the dry run's stand-ins to stop the package code once a resource request is known. */
  class ResourceRequest {
    /**
     * @param {'data'|'text'} kind
     * @param {string} url resolved location
     * @param {number} [expectedSize]
     */
    constructor(kind, url, expectedSize) {
      this.kind = kind;
      this.url = url;
      this.expectedSize = expectedSize;
    }
  }

  /** @param {string} s @returns {boolean} true for `scheme://...`, false for a file system path */
  function isUrl(s) {
    return /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(s);
  }

  /**
   * Resolves `name` relative to the location of the package `.js` (URL or Node path).
   * @param {string} name @param {string} jsLocation @returns {string}
   */
  function resolveRelative(name, jsLocation) {
    if (isUrl(jsLocation)) return new URL(name, jsLocation).href;
    const path = require('path');
    return path.resolve(path.dirname(jsLocation), name);
  }

  /**
   * Reads a resource: fs for paths and file: URLs in Node, fetch otherwise.
   * @param {string} location @param {'data'|'text'} kind @returns {Promise<ArrayBuffer|string>}
   */
  async function readResource(location, kind) {
    if (IN_NODE && !/^https?:/i.test(location)) {
      const file = location.startsWith('file:') ? require('url').fileURLToPath(location) : location;
      const buf = await require('fs').promises.readFile(file);
      if (kind === 'text') return buf.toString('utf8');
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    }
    const response = await fetch(location);
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    return kind === 'text' ? response.text() : response.arrayBuffer();
  }

  /**
   * The I/O the package code sees: a minimal XMLHttpRequest (served synchronously inside `send()`) and fetch, both
   * serving text resources (the separate metadata) that were read beforehand.
   * @param {(url: string) => string} serve returns the text for a URL or throws
   * @returns {{XMLHttpRequest: Function, fetch: Function}}
   */
  function makeIo(serve) {
    const fetchShim = (input) => {
      const text = serve(String(typeof input === 'object' && input !== null && input.url ? input.url : input));
      return Promise.resolve(new Response(text, { status: 200, headers: { 'Content-Type': 'application/json' } }));
    };
    class PreloadedXhr {
      constructor() {
        this.readyState = 0;
        this.status = 0;
        this.responseType = '';
        this.response = null;
        this.responseText = '';
        this.url = '';
        this.onreadystatechange = null;
        this.onload = null;
        this.onerror = null;
      }
      open(_method, url) { this.url = String(url); this.readyState = 1; }
      overrideMimeType() {}
      setRequestHeader() {}
      send() {
        const text = serve(this.url);
        this.status = 200;
        this.readyState = 4;
        this.responseText = text;
        this.response = this.responseType === 'json' ? JSON.parse(text) : text;
        if (this.onreadystatechange) this.onreadystatechange({ target: this });
        if (this.onload) this.onload({ target: this });
      }
    }
    return { XMLHttpRequest: PreloadedXhr, fetch: fetchShim };
  }

  /**
   * The path of a file created with `FS_createDataFile(parent, name, ...)`: the package code passes either
   * (fullPath, null) or (parent dir as a path or FS node, name).
   * @param {any} Module @param {string|object|null} parent @param {string|null} name @returns {string}
   */
  function fullPath(Module, parent, name) {
    const dir = typeof parent === 'object' && parent !== null ? Module.FS.getPath(parent) : parent;
    if (name === null || name === undefined) return String(dir);
    return dir ? Module.PATH.join2(String(dir), String(name)) : String(name);
  }

  /** @param {unknown} e @returns {string} */
  function describe(e) {
    // Emscripten's FS.ErrnoError says only "FS error" (or nothing); Node's fs errors carry a string `code`.
    if (e !== null && typeof e === 'object' && typeof e.errno === 'number' && typeof e.code !== 'string') {
      return `FS error (errno ${e.errno})`;
    }
    return e instanceof Error ? e.message : String(e);
  }

  /**
   * Runs the package code once against the given Module stand-in.
   * @param {Function} packageFn compiled package code
   * @param {object} moduleView @param {{XMLHttpRequest: Function, fetch: Function}} io @param {string} jsLocation
   */
  function runPackageCode(packageFn, moduleView, io, jsLocation) {
    try {
      packageFn(moduleView, io.XMLHttpRequest, io.fetch, undefined, undefined);
    } catch (e) {
      if (e instanceof ResourceRequest) throw e;
      if (e instanceof Error && e.message.startsWith('loadFilePackage:')) throw e;
      throw new Error(`loadFilePackage: the package code of ${jsLocation} failed: ${describe(e)}`, { cause: e });
    }
  }

  /**
   * Loads shared libraries of the package as Pyodide's loader does: libraries that other libraries of the
   * package need are loaded first and globally.
   * @param {any} pyodide @param {string[]} libs absolute paths inside the Pyodide file system
   */
  async function loadSharedLibraries(pyodide, libs) {
    const Module = pyodide._module;
    const api = pyodide._api;
    if (!api || typeof api.loadDynlib !== 'function') {
      throw new Error('loadFilePackage: this Pyodide has no _api.loadDynlib; cannot load ' + libs.join(', '));
    }
    const needed = new Set();
    for (const lib of libs) {
      for (const dep of Module.getDylinkMetadata(Module.FS.readFile(lib)).neededDynlibs) needed.add(dep);
    }
    const ordered = libs
      .map((lib) => ({ lib, global: needed.has(Module.PATH.basename(lib)) }))
      .sort((a, b) => Number(b.global) - Number(a.global));
    for (const { lib, global } of ordered) {
      try {
        // 0.21: (lib, shared); 0.23-0.26: (lib, global, searchDirs, readFileFunc); 0.27+: (lib).
        await api.loadDynlib(lib, global);
      } catch (e) {
        throw new Error(`loadFilePackage: loading shared library ${lib} failed: ${describe(e)}`, { cause: e });
      }
    }
  }

  /**
   * Makes each wasm `.so` of the package a plain MEMFS file. Files of an LZ4 package are lazy LZ4 nodes whose
   * `contents` is not a byte array; Pyodide 0.21's loadDynlib reads MEMFS nodes' `contents` directly and would see
   * an empty file. Files that are not wasm (e.g. stray native `.so`) are left alone and not loaded.
   * @param {any} FS @param {string[]} files @returns {string[]} the wasm shared libraries
   */
  function prepareSharedLibraries(FS, files) {
    const libs = [];
    for (const file of files) {
      if (!/\.so(\.[0-9.]+)?$/.test(file)) continue;
      const bytes = FS.readFile(file);
      const isWasm = bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
      if (!isWasm) continue;
      const node = FS.lookupPath(file).node;
      if (!ArrayBuffer.isView(node.contents)) {
        FS.unlink(file);
        FS.writeFile(file, bytes);
      }
      libs.push(file);
    }
    return libs;
  }

  /**
   * Reads the package code and compiles it into a function of the names it may use for its I/O.
   * @param {string} jsLocation @returns {Promise<Function>}
   */
  async function compilePackage(jsLocation) {
    let code;
    try {
      code = await readResource(jsLocation, 'text');
    } catch (e) {
      throw new Error(`loadFilePackage: cannot read package ${jsLocation}: ${describe(e)}`, { cause: e });
    }
    try {
      return new Function('Module', 'XMLHttpRequest', 'fetch', 'process', 'require', code);
    } catch (e) {
      throw new Error(`loadFilePackage: ${jsLocation} is not valid JavaScript: ${describe(e)}`, { cause: e });
    }
  }

  /**
   * Steps 1-2: dry runs of the package code against an inert Module, each stopped at the first resource it asks for,
   * until it asks for its data; reads every resource and checks the data's size. Touches no file system.
   * @param {Function} packageFn @param {(name: string) => string} locate @param {string} jsLocation
   * @returns {Promise<{data: {url: string, bytes: ArrayBuffer}, texts: Map<string, string>}>}
   */
  async function readPackageResources(packageFn, locate, jsLocation) {
    const texts = new Map();
    for (let attempt = 0; attempt < 8; attempt++) {
      const probe = {
        calledRun: true,
        locateFile: (name) => locate(name),
        getPreloadedPackage: (name, size) => {
          throw new ResourceRequest('data', name, size);
        },
        addRunDependency: () => {},
        removeRunDependency: () => {},
        FS_createPath: () => {},
      };
      const probeIo = makeIo((url) => {
        if (texts.has(url)) return texts.get(url);
        throw new ResourceRequest('text', url);
      });
      let request = null;
      try {
        runPackageCode(packageFn, probe, probeIo, jsLocation);
      } catch (e) {
        if (!(e instanceof ResourceRequest)) throw e;
        request = e;
      }
      if (request === null) {
        throw new Error(
          `loadFilePackage: ${jsLocation} never asked for its data through Module.getPreloadedPackage; ` +
            'is it an emscripten file package?'
        );
      }
      if (request.kind === 'text') {
        try {
          texts.set(request.url, await readResource(request.url, 'text'));
        } catch (e) {
          throw new Error(`loadFilePackage: cannot read ${request.url} (needed by ${jsLocation}): ${describe(e)}`, {
            cause: e,
          });
        }
        continue;
      }
      let bytes;
      try {
        bytes = await readResource(request.url, 'data');
      } catch (e) {
        throw new Error(`loadFilePackage: cannot read data file ${request.url} of ${jsLocation}: ${describe(e)}`, {
          cause: e,
        });
      }
      if (typeof request.expectedSize === 'number' && bytes.byteLength !== request.expectedSize) {
        throw new Error(
          `loadFilePackage: data file ${request.url} has ${bytes.byteLength} bytes but ${jsLocation} expects ` +
            `${request.expectedSize}; the .js and .data do not belong together`
        );
      }
      return { data: { url: request.url, bytes }, texts };
    }
    throw new Error(`loadFilePackage: ${jsLocation} asked for too many resources: ${[...texts.keys()].join(', ')}`);
  }

  /**
   * Step 3: runs the package code against a view of the real Module (an object whose prototype is `Module`, so
   * the real Module is never modified), serving the resources read before; resolves when the package's run
   * dependencies have drained. Refuses to overwrite existing files.
   * @param {any} Module @param {Function} packageFn
   * @param {{data: {url: string, bytes: ArrayBuffer}, texts: Map<string, string>}} resources
   * @param {(name: string) => string} locate @param {string} jsLocation @param {number} timeoutMs
   * @returns {Promise<string[]>} the files the package created
   */
  async function installFiles(Module, packageFn, resources, locate, jsLocation, timeoutMs) {
    const { data, texts } = resources;
    const files = [];
    const claim = (file) => {
      if (Module.FS.analyzePath(file).exists) {
        throw new Error(`loadFilePackage: ${file} already exists; a package does not overwrite files (loaded twice?)`);
      }
      files.push(file);
    };
    const pending = new Set();
    let evaluated = false;
    let settle = null;
    const drained = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `loadFilePackage: ${jsLocation} did not finish within ${timeoutMs} ms; ` +
              `pending run dependencies: ${[...pending].join(', ')}`
          )
        );
      }, timeoutMs);
      settle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    const view = Object.assign(Object.create(Module), {
      calledRun: true, // a pyodide object exists only once the runtime has run
      preRun: [],
      locateFile: (name) => locate(name),
      getPreloadedPackage: (name, size) => {
        if (name !== data.url || size !== data.bytes.byteLength) {
          throw new Error(`loadFilePackage: ${jsLocation} asked for ${name} (${size} bytes) on its second run`);
        }
        return data.bytes;
      },
      // Track the package's own run dependencies; the real ones still run (and call monitorRunDependencies).
      addRunDependency: (id) => {
        pending.add(id);
        Module.addRunDependency(id);
      },
      removeRunDependency: (id) => {
        pending.delete(id);
        Module.removeRunDependency(id);
        if (evaluated && pending.size === 0) settle();
      },
      FS_createDataFile: (parent, name, ...rest) => {
        claim(fullPath(Module, parent, name));
        return Module.FS_createDataFile(parent, name, ...rest);
      },
      FS_createPreloadedFile: (parent, name, ...rest) => {
        claim(fullPath(Module, parent, name));
        return Module.FS_createPreloadedFile(parent, name, ...rest);
      },
    });
    if (Module.LZ4) {
      view.LZ4 = Object.assign(Object.create(Module.LZ4), {
        loadPackage: (pack, preloadPlugin) => {
          pack.metadata.files.forEach((file) => claim(file.filename)); // all checked before any is created
          return Module.LZ4.loadPackage(pack, preloadPlugin);
        },
      });
    }
    const io = makeIo((url) => {
      if (!texts.has(url)) throw new Error(`loadFilePackage: ${jsLocation} asked for ${url} on its second run`);
      return texts.get(url);
    });
    try {
      runPackageCode(packageFn, view, io, jsLocation);
      evaluated = true;
      if (pending.size === 0) settle();
      await drained;
    } catch (e) {
      settle(); // stops the timer
      for (const id of pending) Module.removeRunDependency(id); // keep the runtime's counter balanced
      throw e;
    }
    return files;
  }

  /**
   * @typedef {object} LoadFilePackageOptions
   * @property {(name: string, jsLocation: string) => string} [locateFile] where to find a resource the package
   *   asks for (its `.data`, `.js.metadata`); default: next to the package `.js`.
   * @property {number} [timeoutMs=60000] how long to wait for the package's run dependencies to drain.
   * @property {boolean} [loadSharedLibraries=true] load the package's wasm `.so` files after the files are in place.
   */

  /**
   * @typedef {object} LoadedFilePackage
   * @property {string} jsLocation the package `.js` that was loaded
   * @property {string} dataLocation where its `.data` was read from
   * @property {string[]} files absolute paths of the files it created
   * @property {string[]} sharedLibraries the `.so` files loaded with loadDynlib
   */

  /**
   * Loads an emscripten file package into a running Pyodide. Resolves once every file is in place (the package's
   * run dependencies have drained), its shared libraries are loaded and import caches are invalidated; rejects
   * with an Error naming the file at fault otherwise.
   *
   * @param {any} pyodide the object `loadPyodide()` resolved to
   * @param {string} urlOrPath the package `.js`: a URL (browser, or http(s)/file URL in Node) or a Node path
   * @param {LoadFilePackageOptions} [options]
   * @returns {Promise<LoadedFilePackage>}
   */
  async function loadFilePackage(pyodide, urlOrPath, options = {}) {
    if (!pyodide || !pyodide._module || !pyodide._module.FS) {
      throw new TypeError('loadFilePackage: the first argument must be a loaded Pyodide instance');
    }
    const Module = pyodide._module;
    let jsLocation = String(urlOrPath);
    if (!IN_NODE && !isUrl(jsLocation)) jsLocation = new URL(jsLocation, globalThis.location.href).href;
    const locate = (name) =>
      options.locateFile ? options.locateFile(name, jsLocation) : resolveRelative(name, jsLocation);

    const packageFn = await compilePackage(jsLocation);
    const resources = await readPackageResources(packageFn, locate, jsLocation);
    const files = await installFiles(Module, packageFn, resources, locate, jsLocation, options.timeoutMs ?? 60000);

    // Step 4: shared libraries and import caches.
    const sharedLibraries = options.loadSharedLibraries === false ? [] : prepareSharedLibraries(Module.FS, files);
    if (sharedLibraries.length > 0) await loadSharedLibraries(pyodide, sharedLibraries);
    pyodide.runPython('import importlib\nimportlib.invalidate_caches()');
    return { jsLocation, dataLocation: resources.data.url, files, sharedLibraries };
  }

  if (typeof module === 'object' && module !== null && module.exports) {
    module.exports = { loadFilePackage };
  } else {
    globalThis.loadFilePackage = loadFilePackage;
  }
})();
