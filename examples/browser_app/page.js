/**
 * Runs the example app in Pyodide, printing its stdout into #output, in one of two ways (`?mode=`):
 *
 *  - `bundle` (default): the output of `rules-pyodide bundle` in `bundle/`. `pyodide/` is the runtime with the
 *    bundle's `runtime/` files in place of its own (the trimmed standard library), so the runtime starts with
 *    `fullStdLib: false`; then `bundle/bundle.js` is loaded with loadFilePackage and `bundle/app.py` runs.
 *  - `packages`: `pyodide/` is the runtime plus the dist's package files and their merged index; the app
 *    `app.py` runs after `loadPackagesFromImports` has loaded its packages (the usual way, for comparison).
 *
 * #status ends with data-state="done" or data-state="error" (and the message); #timings shows the load times and
 * has data-first-output-ms: milliseconds from navigation start until the app's first line of output appeared.
 */
'use strict';

(async () => {
  const status = document.getElementById('status');
  const output = document.getElementById('output');
  const timings = document.getElementById('timings');
  const finish = (state, text) => {
    status.textContent = text;
    status.dataset.state = state;
  };
  const fetchOk = async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response;
  };
  const times = {};
  let t = performance.now();
  const lap = (name) => {
    const now = performance.now();
    times[name] = Math.round(now - t);
    t = now;
  };
  try {
    const mode = new URLSearchParams(location.search).get('mode') || 'bundle';
    if (mode !== 'bundle' && mode !== 'packages') throw new Error(`unknown mode ${mode}`);
    status.textContent = 'loading Pyodide…';
    let capture = false;
    const pyodide = await loadPyodide({
      indexURL: new URL('pyodide/', location.href).href,
      ...(mode === 'bundle' ? { fullStdLib: false } : {}),
      stdout: (line) => {
        if (!capture) return console.log(line);
        if (!('firstOutputMs' in timings.dataset)) timings.dataset.firstOutputMs = String(Math.round(performance.now()));
        output.textContent += line + '\n';
      },
      stderr: (line) => console.warn(line),
    });
    lap('runtime');
    let code;
    let summary;
    if (mode === 'bundle') {
      status.textContent = 'loading the bundle…';
      const bundleURL = new URL('bundle/', location.href);
      const manifest = await (await fetchOk(new URL('bundle.json', bundleURL))).json();
      const loaded = manifest.js
        ? await loadFilePackage(pyodide, new URL(manifest.js, bundleURL).href)
        : { files: [], sharedLibraries: [] };
      code = await (await fetchOk(new URL(manifest.app, bundleURL))).text();
      summary = `${loaded.files.length} files, ${loaded.sharedLibraries.length} shared libraries`;
    } else {
      status.textContent = 'loading packages…';
      code = await (await fetchOk(new URL('app.py', location.href))).text();
      const errors = [];
      const [major, minor] = pyodide.version.split('.').map(Number);
      const onError = (msg) => errors.push(String(msg));
      if (major === 0 && minor < 23) await pyodide.loadPackagesFromImports(code, console.log, onError);
      else await pyodide.loadPackagesFromImports(code, { messageCallback: console.log, errorCallback: onError });
      if (errors.length) throw new Error(`loadPackagesFromImports: ${errors.join('; ')}`);
      summary = `packages ${Object.keys(pyodide.loadedPackages).sort().join(', ')}`;
    }
    lap(mode);
    status.textContent = 'running the app…';
    capture = true;
    await pyodide.runPythonAsync(code);
    capture = false;
    lap('app');
    timings.textContent = `${summary}; ` + Object.entries(times).map(([k, v]) => `${k} ${v} ms`).join(', ');
    finish('done', 'done');
  } catch (e) {
    console.error(e);
    finish('error', `error: ${e && e.message ? e.message : e}`);
  }
})();
