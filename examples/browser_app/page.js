/**
 * Loads Pyodide, the app's bundle (through loadFilePackage) and runs the app, printing its stdout into #output.
 * #status ends with data-state="done" or data-state="error" (and the message); #timings shows the load times.
 */
'use strict';

(async () => {
  const status = document.getElementById('status');
  const output = document.getElementById('output');
  const finish = (state, text) => {
    status.textContent = text;
    status.dataset.state = state;
  };
  const times = {};
  let t = performance.now();
  const lap = (name) => {
    const now = performance.now();
    times[name] = Math.round(now - t);
    t = now;
  };
  try {
    status.textContent = 'loading Pyodide…';
    let capture = false;
    const pyodide = await loadPyodide({
      indexURL: new URL('pyodide/', location.href).href,
      stdout: (line) => (capture ? (output.textContent += line + '\n') : console.log(line)),
      stderr: (line) => console.warn(line),
    });
    lap('runtime');
    status.textContent = 'loading the bundle…';
    const bundleURL = new URL('bundle/', location.href);
    const manifestResponse = await fetch(new URL('bundle.json', bundleURL));
    if (!manifestResponse.ok) throw new Error(`bundle/bundle.json: HTTP ${manifestResponse.status}`);
    const manifest = await manifestResponse.json();
    const loaded = await loadFilePackage(pyodide, new URL(manifest.js, bundleURL).href);
    const appResponse = await fetch(new URL(manifest.app, bundleURL));
    if (!appResponse.ok) throw new Error(`bundle/${manifest.app}: HTTP ${appResponse.status}`);
    const code = await appResponse.text();
    lap('bundle');
    status.textContent = 'running the app…';
    capture = true;
    await pyodide.runPythonAsync(code);
    capture = false;
    lap('app');
    document.getElementById('timings').textContent =
      `${loaded.files.length} files, ${loaded.sharedLibraries.length} shared libraries; ` +
      Object.entries(times).map(([k, v]) => `${k} ${v} ms`).join(', ');
    finish('done', 'done');
  } catch (e) {
    console.error(e);
    finish('error', `error: ${e && e.message ? e.message : e}`);
  }
})();
