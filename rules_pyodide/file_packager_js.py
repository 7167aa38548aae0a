"""The loader JS of a file package: emscripten 3.1.6's template, with every embedded string a JSON literal.

Kept apart from :mod:`rules_pyodide.file_packager` so the packing logic reads on its own; this module knows
nothing of files on disk, only of destinations, metadata and options.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["JsInputs", "generate_js", "js_literal"]


def js_literal(value: object) -> str:
    """A JSON literal that is also safe inside an HTML ``<script>`` (no ``</script>``, ``<!--``, U+2028/9)."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


def _fill(template: str, **values: str) -> str:
    """Replaces ``@NAME@`` placeholders in one pass (values are never rescanned); all must be given and used."""
    used: set[str] = set()

    def substitute(match: re.Match[str]) -> str:
        used.add(match.group(1))
        return values[match.group(1)]

    result = _PLACEHOLDER.sub(substitute, template)
    if used != set(values):
        raise AssertionError(f"template placeholders {sorted(used)} != values {sorted(values)}")
    return result


def _create_path_calls(destinations: Sequence[str]) -> str:
    seen: set[str] = set()
    lines: list[str] = []
    for dst in destinations:
        parts = posixpath.dirname(dst).lstrip("/").split("/")
        if parts == [""]:
            continue
        for index in range(len(parts)):
            partial = "/".join(parts[: index + 1])
            if partial not in seen:
                seen.add(partial)
                parent = "/" + "/".join(parts[:index])
                name = parts[index]
                lines.append(f"Module['FS_createPath']({js_literal(parent)}, {js_literal(name)}, true, true);\n")
    return "".join(lines)


_JS_HEADER = """
  var Module = typeof @EXPORT_NAME@ !== 'undefined' ? @EXPORT_NAME@ : {};

  if (!Module.expectedDataFileDownloads) {
    Module.expectedDataFileDownloads = 0;
  }

  Module.expectedDataFileDownloads++;
  (function() {
    // When running as a pthread, FS operations are proxied to the main thread, so we don't need to
    // fetch the .data bundle on the worker
    if (Module['ENVIRONMENT_IS_PTHREAD']) return;
    function err(text) {
      (Module['printErr'] || console.error)(text);
    }
@NODE_HELPERS@
    var loadPackage = function(metadata) {
"""

_JS_NODE_HELPERS = """
    var ENVIRONMENT_IS_NODE = typeof process === 'object' && typeof process.versions === 'object' &&
      typeof process.versions.node === 'string';
    function nodeReadFile(filename, callback, errback) {
      var fs = typeof require === 'function' ? require('fs') :
        (typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule('fs') : null);
      if (!fs) {
        errback(new Error('cannot load the Node.js fs module to read ' + filename));
        return;
      }
      fs.readFile(filename, function(error, contents) {
        if (error) {
          errback(error);
          return;
        }
        var buffer = contents.buffer;
        if (contents.byteOffset !== 0 || contents.byteLength !== buffer.byteLength) {
          buffer = buffer.slice(contents.byteOffset, contents.byteOffset + contents.byteLength);
        }
        callback(buffer);
      });
    }
"""

_JS_PACKAGE_VARS = """
      var PACKAGE_PATH = '';
      if (typeof window === 'object') {
        PACKAGE_PATH = window['encodeURIComponent'](window.location.pathname.toString().substring(0,
          window.location.pathname.toString().lastIndexOf('/')) + '/');
      } else if (typeof process === 'undefined' && typeof location !== 'undefined') {
        // web worker
        PACKAGE_PATH = encodeURIComponent(location.pathname.toString().substring(0,
          location.pathname.toString().lastIndexOf('/')) + '/');
      }
      var PACKAGE_NAME = @PACKAGE_NAME@;
      var REMOTE_PACKAGE_BASE = @PACKAGE_NAME@;
      if (typeof Module['locateFilePackage'] === 'function' && !Module['locateFile']) {
        Module['locateFile'] = Module['locateFilePackage'];
        err('warning: you defined Module.locateFilePackage, that has been renamed to Module.locateFile ' +
            '(using your locateFilePackage for now)');
      }
      var REMOTE_PACKAGE_NAME = Module['locateFile'] ? Module['locateFile'](REMOTE_PACKAGE_BASE, '') :
        REMOTE_PACKAGE_BASE;

      var REMOTE_PACKAGE_SIZE = metadata['remote_package_size'];
      var PACKAGE_UUID = metadata['package_uuid'];
"""

_JS_FETCH = """
      function fetchRemotePackage(packageName, packageSize, callback, errback) {
        @NODE_FETCH@
        var xhr = new XMLHttpRequest();
        xhr.open('GET', packageName, true);
        xhr.responseType = 'arraybuffer';
        xhr.onprogress = function(event) {
          var url = packageName;
          var size = packageSize;
          if (event.total) size = event.total;
          if (event.loaded) {
            if (!xhr.addedTotal) {
              xhr.addedTotal = true;
              if (!Module.dataFileDownloads) Module.dataFileDownloads = {};
              Module.dataFileDownloads[url] = {
                loaded: event.loaded,
                total: size
              };
            } else {
              Module.dataFileDownloads[url].loaded = event.loaded;
            }
            var total = 0;
            var loaded = 0;
            var num = 0;
            for (var download in Module.dataFileDownloads) {
            var data = Module.dataFileDownloads[download];
              total += data.total;
              loaded += data.loaded;
              num++;
            }
            total = Math.ceil(total * Module.expectedDataFileDownloads/num);
            if (Module['setStatus']) Module['setStatus']('Downloading data... (' + loaded + '/' + total + ')');
          } else if (!Module.dataFileDownloads) {
            if (Module['setStatus']) Module['setStatus']('Downloading data...');
          }
        };
        xhr.onerror = function(event) {
          throw new Error("NetworkError for: " + packageName);
        }
        xhr.onload = function(event) {
          // file URLs can return 0
          if (xhr.status == 200 || xhr.status == 304 || xhr.status == 206 || (xhr.status == 0 && xhr.response)) {
            var packageData = xhr.response;
            callback(packageData);
          } else {
            throw new Error(xhr.statusText + " : " + xhr.responseURL);
          }
        };
        xhr.send(null);
      };

      function handleError(error) {
        console.error('package error:', error);
      };
"""

_JS_NODE_FETCH = """if (ENVIRONMENT_IS_NODE) {
          nodeReadFile(packageName, callback, errback);
          return;
        }"""

_JS_ASSERT = """
      function assert(check, msg) {
        if (!check) throw msg + new Error().stack;
      }
"""

_JS_CREATE_PRELOADED = """
          Module['FS_createPreloadedFile'](this.name, null, byteArray, true, true, function() {
            Module['removeRunDependency']('fp ' + that.name);
          }, function() {
            if (that.audio) {
              // workaround for chromium bug 124926 (still no audio with this, but at least we don't hang)
              Module['removeRunDependency']('fp ' + that.name);
            } else {
              err('Preloading file ' + that.name + ' failed');
            }
          }, false, true); // canOwn this data in the filesystem, it is a slide into the heap that will never change
"""

_JS_CREATE_DATA = """// canOwn this data in the filesystem, it is a slide into the heap that will never change
          Module['FS_createDataFile'](this.name, null, byteArray, true, true, true);
          Module['removeRunDependency']('fp ' + that.name);"""

_JS_DATA_REQUEST = """
      /** @constructor */
      function DataRequest(start, end, audio) {
        this.start = start;
        this.end = end;
        this.audio = audio;
      }
      DataRequest.prototype = {
        requests: Object.create(null),
        open: function(mode, name) {
          this.name = name;
          this.requests[name] = this;
          Module['addRunDependency']('fp ' + this.name);
        },
        send: function() {},
        onload: function() {
          var byteArray = this.byteArray.subarray(this.start, this.end);
          this.finish(byteArray);
        },
        finish: function(byteArray) {
          var that = this;
          @CREATE@
          this.requests[this.name] = null;
        }
      };

      var files = metadata['files'];
      for (var i = 0; i < files.length; ++i) {
        new DataRequest(files[i]['start'], files[i]['end'], files[i]['audio'] || 0).open('GET', files[i]['filename']);
      }
"""

_JS_USE_DATA_PLAIN = """// Reuse the bytearray from the XHR as the source for file reads.
          DataRequest.prototype.byteArray = byteArray;
          var files = metadata['files'];
          for (var i = 0; i < files.length; ++i) {
            DataRequest.prototype.requests[files[i].filename].onload();
          }
          Module['removeRunDependency'](@DATAFILE_DEP@);"""

_JS_USE_DATA_LZ4 = """var compressedData = @COMPRESSED@;
            compressedData['data'] = byteArray;
            assert(typeof Module['LZ4'] === 'object', 'LZ4 not present - was your app build with  -s LZ4=1  ?');
            Module['LZ4'].loadPackage({ 'metadata': metadata, 'compressedData': compressedData }, @PLUGINS@);
            Module['removeRunDependency'](@DATAFILE_DEP@);"""

_JS_PROCESS = """
      function processPackageData(arrayBuffer) {
        assert(arrayBuffer, 'Loading data file failed.');
        assert(arrayBuffer instanceof ArrayBuffer ||
               Object.prototype.toString.call(arrayBuffer) === '[object ArrayBuffer]',
               'bad input to processPackageData');
        var byteArray = new Uint8Array(arrayBuffer);
        var curr;
        @USE_DATA@
      };
      Module['addRunDependency'](@DATAFILE_DEP@);

      if (!Module.preloadResults) Module.preloadResults = {};
"""

_JS_IDB = r"""
        var indexedDB;
        if (typeof window === 'object') {
          indexedDB = window.indexedDB || window.mozIndexedDB || window.webkitIndexedDB || window.msIndexedDB;
        } else if (typeof location !== 'undefined') {
          // worker
          indexedDB = self.indexedDB;
        } else {
          throw 'using IndexedDB to cache data can only be done on a web page or in a web worker';
        }
        var IDB_RO = "readonly";
        var IDB_RW = "readwrite";
        var DB_NAME = @DB_NAME@;
        var DB_VERSION = 1;
        var METADATA_STORE_NAME = 'METADATA';
        var PACKAGE_STORE_NAME = 'PACKAGES';
        function openDatabase(callback, errback) {
          try {
            var openRequest = indexedDB.open(DB_NAME, DB_VERSION);
          } catch (e) {
            return errback(e);
          }
          openRequest.onupgradeneeded = function(event) {
            var db = /** @type {IDBDatabase} */ (event.target.result);

            if (db.objectStoreNames.contains(PACKAGE_STORE_NAME)) {
              db.deleteObjectStore(PACKAGE_STORE_NAME);
            }
            var packages = db.createObjectStore(PACKAGE_STORE_NAME);

            if (db.objectStoreNames.contains(METADATA_STORE_NAME)) {
              db.deleteObjectStore(METADATA_STORE_NAME);
            }
            var metadata = db.createObjectStore(METADATA_STORE_NAME);
          };
          openRequest.onsuccess = function(event) {
            var db = /** @type {IDBDatabase} */ (event.target.result);
            callback(db);
          };
          openRequest.onerror = function(error) {
            errback(error);
          };
        };

        // This is needed as chromium has a limit on per-entry files in IndexedDB
        // https://cs.chromium.org/chromium/src/content/renderer/indexed_db/webidbdatabase_impl.cc?type=cs&sq=package:chromium&g=0&l=177
        // https://cs.chromium.org/chromium/src/out/Debug/gen/third_party/blink/public/mojom/indexeddb/indexeddb.mojom.h?type=cs&sq=package:chromium&g=0&l=60
        // We set the chunk size to 64MB to stay well-below the limit
        var CHUNK_SIZE = 64 * 1024 * 1024;

        function cacheRemotePackage(
          db,
          packageName,
          packageData,
          packageMeta,
          callback,
          errback
        ) {
          var transactionPackages = db.transaction([PACKAGE_STORE_NAME], IDB_RW);
          var packages = transactionPackages.objectStore(PACKAGE_STORE_NAME);
          var chunkSliceStart = 0;
          var nextChunkSliceStart = 0;
          var chunkCount = Math.ceil(packageData.byteLength / CHUNK_SIZE);
          var finishedChunks = 0;
          for (var chunkId = 0; chunkId < chunkCount; chunkId++) {
            nextChunkSliceStart += CHUNK_SIZE;
            var putPackageRequest = packages.put(
              packageData.slice(chunkSliceStart, nextChunkSliceStart),
              'package/' + packageName + '/' + chunkId
            );
            chunkSliceStart = nextChunkSliceStart;
            putPackageRequest.onsuccess = function(event) {
              finishedChunks++;
              if (finishedChunks == chunkCount) {
                var transaction_metadata = db.transaction(
                  [METADATA_STORE_NAME],
                  IDB_RW
                );
                var metadata = transaction_metadata.objectStore(METADATA_STORE_NAME);
                var putMetadataRequest = metadata.put(
                  {
                    'uuid': packageMeta.uuid,
                    'chunkCount': chunkCount
                  },
                  'metadata/' + packageName
                );
                putMetadataRequest.onsuccess = function(event) {
                  callback(packageData);
                };
                putMetadataRequest.onerror = function(error) {
                  errback(error);
                };
              }
            };
            putPackageRequest.onerror = function(error) {
              errback(error);
            };
          }
        }

        /* Check if there's a cached package, and if so whether it's the latest available */
        function checkCachedPackage(db, packageName, callback, errback) {
          var transaction = db.transaction([METADATA_STORE_NAME], IDB_RO);
          var metadata = transaction.objectStore(METADATA_STORE_NAME);
          var getRequest = metadata.get('metadata/' + packageName);
          getRequest.onsuccess = function(event) {
            var result = event.target.result;
            if (!result) {
              return callback(false, null);
            } else {
              return callback(PACKAGE_UUID === result['uuid'], result);
            }
          };
          getRequest.onerror = function(error) {
            errback(error);
          };
        }

        function fetchCachedPackage(db, packageName, metadata, callback, errback) {
          var transaction = db.transaction([PACKAGE_STORE_NAME], IDB_RO);
          var packages = transaction.objectStore(PACKAGE_STORE_NAME);

          var chunksDone = 0;
          var totalSize = 0;
          var chunkCount = metadata['chunkCount'];
          var chunks = new Array(chunkCount);

          for (var chunkId = 0; chunkId < chunkCount; chunkId++) {
            var getRequest = packages.get('package/' + packageName + '/' + chunkId);
            getRequest.onsuccess = function(event) {
              // If there's only 1 chunk, there's nothing to concatenate it with so we can just return it now
              if (chunkCount == 1) {
                callback(event.target.result);
              } else {
                chunksDone++;
                totalSize += event.target.result.byteLength;
                chunks.push(event.target.result);
                if (chunksDone == chunkCount) {
                  if (chunksDone == 1) {
                    callback(event.target.result);
                  } else {
                    var tempTyped = new Uint8Array(totalSize);
                    var byteOffset = 0;
                    for (var chunkId in chunks) {
                      var buffer = chunks[chunkId];
                      tempTyped.set(new Uint8Array(buffer), byteOffset);
                      byteOffset += buffer.byteLength;
                      buffer = undefined;
                    }
                    chunks = undefined;
                    callback(tempTyped.buffer);
                    tempTyped = undefined;
                  }
                }
              }
            };
            getRequest.onerror = function(error) {
              errback(error);
            };
          }
        }
"""

_JS_IDB_START = """
        function preloadFallback(error) {
          console.error(error);
          console.error('falling back to default preload behavior');
          fetchRemotePackage(REMOTE_PACKAGE_NAME, REMOTE_PACKAGE_SIZE, processPackageData, handleError);
        };

        openDatabase(
          function(db) {
            checkCachedPackage(db, PACKAGE_PATH + PACKAGE_NAME,
              function(useCached, metadata) {
                Module.preloadResults[PACKAGE_NAME] = {fromCache: useCached};
                if (useCached) {
                  fetchCachedPackage(db, PACKAGE_PATH + PACKAGE_NAME, metadata, processPackageData, preloadFallback);
                } else {
                  fetchRemotePackage(REMOTE_PACKAGE_NAME, REMOTE_PACKAGE_SIZE,
                    function(packageData) {
                      cacheRemotePackage(db, PACKAGE_PATH + PACKAGE_NAME, packageData, {uuid:PACKAGE_UUID},
                        processPackageData,
                        function(error) {
                          console.error(error);
                          processPackageData(packageData);
                        });
                    }
                  , preloadFallback);
                }
              }
            , preloadFallback);
          }
        , preloadFallback);

        if (Module['setStatus']) Module['setStatus']('Downloading...');
"""

_JS_EARLY_FETCH = """
      var fetchedCallback = null;
      var fetched = Module['getPreloadedPackage'] ?
        Module['getPreloadedPackage'](REMOTE_PACKAGE_NAME, REMOTE_PACKAGE_SIZE) : null;

      if (!fetched) fetchRemotePackage(REMOTE_PACKAGE_NAME, REMOTE_PACKAGE_SIZE, function(data) {
        if (fetchedCallback) {
          fetchedCallback(data);
          fetchedCallback = null;
        } else {
          fetched = data;
        }
      }, handleError);
"""

_JS_USE_FETCHED = """
      Module.preloadResults[PACKAGE_NAME] = {fromCache: false};
      if (fetched) {
        processPackageData(fetched);
        fetched = null;
      } else {
        fetchedCallback = processPackageData;
      }
"""

_JS_RUN_WITH_FS = """
    function runWithFS() {
@CODE@
    }
    if (Module['calledRun']) {
      runWithFS();
    } else {
      if (!Module['preRun']) Module['preRun'] = [];
      Module["preRun"].push(runWithFS); // FS is not initialized yet, wait for it
    }
"""

_JS_INLINE_METADATA = """
    }
    loadPackage(@METADATA@);

  })();
"""

_JS_SEPARATE_METADATA = """
    Module['removeRunDependency'](@METADATA_FILE@);
  }

  function runMetaWithFS() {
    Module['addRunDependency'](@METADATA_FILE@);
    var REMOTE_METADATA_NAME = Module['locateFile'] ? Module['locateFile'](@METADATA_FILE@, '') : @METADATA_FILE@;
    function metadataError(error) {
      console.error('package metadata error:', REMOTE_METADATA_NAME, error);
    }
@NODE_METADATA@
    var xhr = new XMLHttpRequest();
    xhr.onreadystatechange = function() {
      if (xhr.readyState !== 4) return;
      if (xhr.status === 200 || (xhr.status === 0 && xhr.responseText)) { // file URLs can return 0
        loadPackage(JSON.parse(xhr.responseText));
      } else {
        metadataError(new Error(xhr.statusText + ' : ' + xhr.responseURL));
      }
    }
    xhr.open('GET', REMOTE_METADATA_NAME, true);
    xhr.overrideMimeType('application/json');
    xhr.send(null);
  }

  if (Module['calledRun']) {
    runMetaWithFS();
  } else {
    if (!Module['preRun']) Module['preRun'] = [];
    Module["preRun"].push(runMetaWithFS);
  }

  })();
"""

_JS_NODE_METADATA = """    if (ENVIRONMENT_IS_NODE) {
      nodeReadFile(REMOTE_METADATA_NAME, function(buffer) {
        loadPackage(JSON.parse(new TextDecoder('utf-8').decode(new Uint8Array(buffer))));
      }, metadataError);
      return;
    }"""


@dataclass(frozen=True)
class JsInputs:
    """What the loader JS depends on: the packer's options, the destinations and the metadata."""

    package_name: str
    destinations: tuple[str, ...]
    metadata: dict[str, Any]
    lz4_table: dict[str, Any] | None
    export_name: str = "Module"
    support_node: bool = True
    use_preload_cache: bool = False
    use_preload_plugins: bool = False
    indexeddb_name: str = "EM_PRELOAD_CACHE"
    metadata_file: str | None = None


def _runtime_code(inputs: JsInputs, datafile_dep: str) -> str:
    """The body of ``runWithFS``: directories, file creation, and fetching/processing the package."""
    options = inputs
    code = _JS_ASSERT + _create_path_calls(inputs.destinations)
    if inputs.lz4_table is None:
        create = _JS_CREATE_PRELOADED if options.use_preload_plugins else _JS_CREATE_DATA
        code += _fill(_JS_DATA_REQUEST, CREATE=create)
        use_data = _fill(_JS_USE_DATA_PLAIN, DATAFILE_DEP=datafile_dep)
    else:
        compressed = json.dumps(inputs.lz4_table, separators=(",", ":"))
        plugins = "true" if options.use_preload_plugins else "false"
        use_data = _fill(_JS_USE_DATA_LZ4, COMPRESSED=compressed, PLUGINS=plugins, DATAFILE_DEP=datafile_dep)
    if options.use_preload_cache:
        code += _fill(_JS_IDB, DB_NAME=js_literal(options.indexeddb_name))
    code += _fill(_JS_PROCESS, USE_DATA=use_data, DATAFILE_DEP=datafile_dep)
    code += _JS_IDB_START if options.use_preload_cache else _JS_USE_FETCHED
    return code


def generate_js(inputs: JsInputs) -> str:
    """The loader JS, following emscripten 3.1.6's template."""
    options = inputs
    package_name = options.package_name
    datafile_dep = js_literal("datafile_" + package_name)
    node_helpers = _JS_NODE_HELPERS if options.support_node else ""
    js = _fill(_JS_HEADER, EXPORT_NAME=options.export_name, NODE_HELPERS=node_helpers)
    js += _fill(_JS_PACKAGE_VARS, PACKAGE_NAME=js_literal(package_name))
    js += _fill(_JS_FETCH, NODE_FETCH=_JS_NODE_FETCH if options.support_node else "")
    if not options.use_preload_cache:
        js += _JS_EARLY_FETCH
    js += _fill(_JS_RUN_WITH_FS, CODE=_runtime_code(inputs, datafile_dep))
    if options.metadata_file is None:
        return js + _fill(_JS_INLINE_METADATA, METADATA=js_literal(inputs.metadata))
    node_metadata = _JS_NODE_METADATA if options.support_node else ""
    return js + _fill(
        _JS_SEPARATE_METADATA,
        METADATA_FILE=js_literal(options.metadata_file),
        NODE_METADATA=node_metadata,
    )
