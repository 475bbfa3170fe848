'use strict';
// Loads the native half of nexurejs (napi/README.md). NEXURE_ADDON points at another build of
// it (a sanitizer build, see napi/README.md); by default it is the file the install script
// built next to this one.
const path = require('node:path');

const file = process.env.NEXURE_ADDON || path.join(__dirname, 'nexurejs.node');

function load() {
  try {
    return require(file);
  } catch (err) {
    if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(file)) {
      throw new Error(
        `nexurejs: the native addon ${file} was not built (was the package installed with ` +
          '--ignore-scripts, or did its build fail?). Run `npm rebuild nexurejs` and read its ' +
          'output: it needs Linux, cmake, g++ and the headers of liburing, libnuma and llhttp ' +
          '(apt-get install cmake g++ pkg-config liburing-dev libnuma-dev node-llhttp).',
        { cause: err },
      );
    }
    throw new Error(`nexurejs: cannot load the native addon ${file}: ${err && err.message}`, {
      cause: err,
    });
  }
}

const binding = load();

// Main-thread process.exit() runs no environment cleanup hook: without this the engine threads
// would still be serving while the process tears itself down. 'exit' fires in worker_threads
// too. Servers still waiting for JavaScript answers after a short grace period are left to the
// OS (binding.shutdownAll() in napi/src/addon.cc).
process.once('exit', () => {
  binding.shutdownAll();
});

module.exports = binding;
